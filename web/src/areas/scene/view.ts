// The three.js side of the 3D page: one renderer on the page's canvas, the
// host core at the centre, agents as spheres on their orbits, devices as boxes
// on the outer rings, links as lines; colours, sizes and animations are the
// server's (docs/VISUALIZATION.md), so the page and the API agree on what a
// status looks like. This module is only imported by ScenePage, which the app
// loads on demand: three.js is never part of the console's first download.

import * as THREE from 'three'
import { OrbitControls } from 'three/addons/controls/OrbitControls.js'
import type { Scene, SceneAgent, SceneDevice } from '../../api/types'

export interface Picked {
  kind: 'agent' | 'device' | 'core'
  id: string
  name: string
}

interface Entity {
  mesh: THREE.Mesh<THREE.BufferGeometry, THREE.MeshStandardMaterial>
  label: THREE.Sprite | null
  labelText: string
  picked: Picked
  data: SceneAgent | SceneDevice | null
}

const AGENT_GEOMETRY = new THREE.SphereGeometry(2, 24, 16)
const DEVICE_GEOMETRY = new THREE.BoxGeometry(3.6, 3.6, 3.6)
const CORE_GEOMETRY = new THREE.SphereGeometry(5, 40, 24)

/** A name drawn on a canvas, shown as a sprite that always faces the camera. */
function makeLabel(text: string): THREE.Sprite {
  const canvas = document.createElement('canvas')
  const ctx = canvas.getContext('2d')!
  const font = '600 28px system-ui, sans-serif'
  ctx.font = font
  canvas.width = Math.ceil(ctx.measureText(text).width) + 16
  canvas.height = 40
  ctx.font = font
  ctx.fillStyle = 'rgba(11, 16, 32, 0.6)'
  ctx.fillRect(0, 0, canvas.width, canvas.height)
  ctx.fillStyle = '#e3e8ee'
  ctx.textBaseline = 'middle'
  ctx.fillText(text, 8, canvas.height / 2)
  const texture = new THREE.CanvasTexture(canvas)
  texture.colorSpace = THREE.SRGBColorSpace
  const sprite = new THREE.Sprite(new THREE.SpriteMaterial({ map: texture, depthWrite: false }))
  // 40 px of canvas = 2.5 scene units tall.
  sprite.scale.set((canvas.width / canvas.height) * 2.5, 2.5, 1)
  return sprite
}

export class SceneView {
  private readonly renderer: THREE.WebGLRenderer
  private readonly scene = new THREE.Scene()
  private readonly camera: THREE.PerspectiveCamera
  private readonly controls: OrbitControls
  private readonly entities = new Map<string, Entity>()
  private readonly links = new THREE.Group()
  private readonly raycaster = new THREE.Raycaster()
  private readonly clock = new THREE.Clock()
  private frame = 0
  private data: Scene | null = null
  private readonly resize: ResizeObserver

  constructor(private readonly canvas: HTMLCanvasElement) {
    // preserveDrawingBuffer: a screenshot (and the e2e pixel check) sees the last frame drawn.
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true })
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2))
    this.scene.background = new THREE.Color('#0b1020')
    this.camera = new THREE.PerspectiveCamera(50, 1, 0.5, 2000)
    this.camera.position.set(0, 60, 120)
    this.controls = new OrbitControls(this.camera, canvas)
    this.controls.enableDamping = true
    this.controls.listenToKeyEvents(canvas)
    this.scene.add(new THREE.AmbientLight(0xffffff, 0.55))
    const sun = new THREE.DirectionalLight(0xffffff, 1.6)
    sun.position.set(40, 80, 60)
    this.scene.add(sun)
    const grid = new THREE.PolarGridHelper(90, 12, 6, 64, 0x26304a, 0x1a2236)
    grid.position.y = -6
    this.scene.add(grid)
    this.scene.add(this.links)
    this.resize = new ResizeObserver(() => this.fit())
    this.resize.observe(canvas)
    this.fit()
    this.loop()
  }

  private fit(): void {
    const { clientWidth: w, clientHeight: h } = this.canvas
    if (!w || !h) return
    this.renderer.setSize(w, h, false)
    this.camera.aspect = w / h
    this.camera.updateProjectionMatrix()
  }

  private entity(id: string, geometry: THREE.BufferGeometry, picked: Picked): Entity {
    let e = this.entities.get(id)
    if (!e) {
      const mesh = new THREE.Mesh(geometry, new THREE.MeshStandardMaterial({ roughness: 0.45 }))
      mesh.userData.id = id
      this.scene.add(mesh)
      e = { mesh, label: null, labelText: '', picked, data: null }
      this.entities.set(id, e)
    }
    e.picked = picked
    if (e.labelText !== picked.name) {
      if (e.label) this.disposeLabel(e)
      e.label = makeLabel(picked.name)
      e.labelText = picked.name
      this.scene.add(e.label)
    }
    return e
  }

  private disposeLabel(e: Entity): void {
    if (!e.label) return
    this.scene.remove(e.label)
    e.label.material.map?.dispose()
    e.label.material.dispose()
    e.label = null
  }

  /** Takes a new scene: entities added, changed or removed; links drawn again. */
  update(data: Scene): void {
    this.data = data
    const seen = new Set<string>(['core'])
    const core = this.entity('core', CORE_GEOMETRY, { kind: 'core', id: 'core', name: 'Myntrix core' })
    core.mesh.material.color.set(data.core.color)
    core.mesh.material.emissive.set(data.core.color)
    core.mesh.material.emissiveIntensity = 0.35
    core.mesh.position.set(...data.core.position)
    for (const a of data.agents) {
      seen.add(a.id)
      const e = this.entity(a.id, AGENT_GEOMETRY, { kind: 'agent', id: a.id, name: a.name })
      e.data = a
      e.mesh.material.color.set(a.color)
      e.mesh.material.emissive.set(a.color)
      e.mesh.material.emissiveIntensity = a.emissiveIntensity
      e.mesh.scale.setScalar(a.scale)
      e.mesh.position.set(...a.position)
    }
    for (const d of data.devices) {
      seen.add(d.id)
      const e = this.entity(d.id, DEVICE_GEOMETRY, { kind: 'device', id: d.id, name: d.name })
      e.data = d
      e.mesh.material.color.set(d.color)
      e.mesh.material.emissive.set(d.color)
      e.mesh.material.emissiveIntensity = 0.2 + 0.6 * d.pulse
      e.mesh.position.set(...d.position)
    }
    for (const [id, e] of this.entities) {
      if (seen.has(id)) continue
      this.scene.remove(e.mesh)
      e.mesh.material.dispose()
      this.disposeLabel(e)
      this.entities.delete(id)
    }
    this.drawLinks()
  }

  private drawLinks(): void {
    for (const child of [...this.links.children]) {
      const line = child as THREE.Line
      line.geometry.dispose()
      ;(line.material as THREE.Material).dispose()
      this.links.remove(line)
    }
    for (const link of this.data?.links ?? []) {
      const from = this.entities.get(link.source)?.mesh.position
      const to = this.entities.get(link.target)?.mesh.position
      // A task is not drawn as a body: its links end where it has none.
      if (!from || !to) continue
      const geometry = new THREE.BufferGeometry().setFromPoints([from.clone(), to.clone()])
      const material = new THREE.LineBasicMaterial({
        color: link.active ? 0x7dd3fc : 0x475569,
        transparent: true,
        opacity: link.active ? 0.9 : 0.45,
      })
      const line = new THREE.Line(geometry, material)
      line.userData.link = link
      this.links.add(line)
    }
  }

  private animate(t: number): void {
    for (const e of this.entities.values()) {
      const d = e.data
      if (e.label) {
        const p = e.mesh.position
        e.label.position.set(p.x, p.y + 3.2 * e.mesh.scale.y + (e.picked.kind === 'core' ? 3 : 0), p.z)
      }
      if (!d) continue
      if ('orbit' in d && d.orbit.speed > 0) {
        const angle = d.orbit.phase + d.orbit.speed * t
        e.mesh.position.set(Math.cos(angle) * d.orbit.radius, d.position[1], Math.sin(angle) * d.orbit.radius)
      }
      if (d.animation === 'blink') e.mesh.visible = Math.floor(t * 2) % 2 === 0
      else e.mesh.visible = true
      if (d.animation === 'pulse')
        e.mesh.material.emissiveIntensity = 0.3 + 0.5 * (0.5 + 0.5 * Math.sin(t * 4))
    }
    // Links follow the moving ends.
    for (const child of this.links.children) {
      const line = child as THREE.Line
      const link = line.userData.link as { source: string; target: string }
      const from = this.entities.get(link.source)?.mesh.position
      const to = this.entities.get(link.target)?.mesh.position
      if (from && to) line.geometry.setFromPoints([from, to])
    }
  }

  private loop = (): void => {
    this.frame = requestAnimationFrame(this.loop)
    this.animate(this.clock.getElapsedTime())
    this.controls.update()
    this.renderer.render(this.scene, this.camera)
  }

  /** The entity under a point of the canvas (client coordinates), if any. */
  pick(clientX: number, clientY: number): Picked | null {
    const rect = this.canvas.getBoundingClientRect()
    const pointer = new THREE.Vector2(
      ((clientX - rect.left) / rect.width) * 2 - 1,
      -((clientY - rect.top) / rect.height) * 2 + 1,
    )
    this.raycaster.setFromCamera(pointer, this.camera)
    const meshes = [...this.entities.values()].filter((e) => e.mesh.visible).map((e) => e.mesh)
    const hit = this.raycaster.intersectObjects(meshes, false)[0]
    return hit ? (this.entities.get(hit.object.userData.id as string)?.picked ?? null) : null
  }

  dispose(): void {
    cancelAnimationFrame(this.frame)
    this.resize.disconnect()
    this.controls.dispose()
    for (const e of this.entities.values()) {
      e.mesh.material.dispose()
      this.disposeLabel(e)
    }
    this.drawLinksClear()
    this.renderer.dispose()
  }

  private drawLinksClear(): void {
    this.data = null
    this.drawLinks()
  }
}
