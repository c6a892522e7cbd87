// The 3D page: the scene from the visualization feed (kept in the query cache
// by the shell's scene feed) drawn with three.js, orbit controls (drag, wheel,
// arrow keys on the focused canvas), and a click on an agent or device opening
// its page. The list beside the canvas names every entity with its status and
// is the keyboard's way in. Loaded on its own (React.lazy in app/App.tsx), so
// three.js stays out of the console's first download.

import { useEffect, useRef, useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { useScene } from '../../api/scene-feed'
import { QueryState } from '../../ui/Loading'
import { StatusDot } from '../../ui/StatusDot'
import '../pages.css'
import { type Picked, SceneView } from './view'

const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
const pathOf = (p: Picked) =>
  p.kind === 'agent' ? `/agents/${p.id}` : p.kind === 'device' ? `/devices/${p.id}` : '/'

export default function ScenePage() {
  const scene = useScene()
  const canvas = useRef<HTMLCanvasElement>(null)
  const view = useRef<SceneView | null>(null)
  const navigate = useNavigate()
  const [hover, setHover] = useState<Picked | null>(null)
  const [failed, setFailed] = useState<string | null>(null)
  const down = useRef<{ x: number; y: number } | null>(null)
  const ready = scene.data !== undefined

  useEffect(() => {
    if (!ready || !canvas.current) return
    try {
      view.current = new SceneView(canvas.current)
    } catch (err) {
      setFailed(err instanceof Error ? err.message : String(err))
    }
    return () => {
      view.current?.dispose()
      view.current = null
    }
  }, [ready])

  useEffect(() => {
    if (scene.data) view.current?.update(scene.data)
  }, [scene.data])

  if (!scene.data) return <QueryState what="the 3D scene" error={scene.error} />
  const { agents, devices, links, core } = scene.data
  return (
    <section aria-labelledby="page-title">
      <div className="page-head">
        <h1 id="page-title">3D</h1>
        <span className="muted">
          {count(agents.length, 'agent')}, {count(devices.length, 'device')}, {count(links.length, 'link')}.
          Drag to orbit, wheel to zoom, click an agent or device to open it.
        </span>
      </div>
      {failed && (
        <p className="problem" role="alert">
          The 3D view cannot start here (WebGL): {failed}
        </p>
      )}
      <div className="scene-wrap">
        <div>
          <canvas
            ref={canvas}
            className="scene-canvas"
            tabIndex={0}
            aria-label={`3D scene: host core ${core.status}, ${count(agents.length, 'agent')} and ${count(devices.length, 'device')}`}
            onPointerDown={(e) => {
              down.current = { x: e.clientX, y: e.clientY }
            }}
            onPointerUp={(e) => {
              const start = down.current
              down.current = null
              // A drag orbits; only a click (little movement) opens what is under it.
              if (!start || Math.hypot(e.clientX - start.x, e.clientY - start.y) > 5) return
              const picked = view.current?.pick(e.clientX, e.clientY)
              if (picked && picked.kind !== 'core') navigate(pathOf(picked))
            }}
            onPointerMove={(e) => {
              if (down.current) return
              const picked = view.current?.pick(e.clientX, e.clientY) ?? null
              setHover((h) => (h?.id === picked?.id ? h : picked))
              if (canvas.current)
                canvas.current.style.cursor = picked && picked.kind !== 'core' ? 'pointer' : 'grab'
            }}
          />
          <p className="muted" aria-live="polite">
            {hover ? `${hover.kind}: ${hover.name}` : ' '}
          </p>
        </div>
        <nav aria-label="Scene entities">
          <h2>In the scene</h2>
          <ul className="scene-legend">
            <li>
              <span className="swatch" style={{ background: core.color }} aria-hidden="true" />
              Host core <StatusDot status={core.status} />
            </li>
            {agents.map((a) => (
              <li key={a.id}>
                <span
                  className="swatch"
                  style={{ background: a.color, borderRadius: '50%' }}
                  aria-hidden="true"
                />
                <Link to={`/agents/${a.id}`}>{a.name}</Link> <StatusDot status={a.status} />
              </li>
            ))}
            {devices.map((d) => (
              <li key={d.id}>
                <span className="swatch" style={{ background: d.color }} aria-hidden="true" />
                <Link to={`/devices/${d.id}`}>{d.name}</Link> <StatusDot status={d.status} />
              </li>
            ))}
          </ul>
        </nav>
      </div>
    </section>
  )
}
