// configuration.runtime: the shape (400 paths), the mount rules, the admin-only parts,
// and what the Docker runtime receives.
import { describe, expect, it } from 'vitest'
import {
  adminOnlyFields,
  containerSpecOf,
  type DockerRuntimeConfig,
  mountErrors,
  RuntimeConfigSchema,
} from '../../../src/modules/agents/runtime-config.js'
import { schemaErrors } from '../../../src/validation.js'

const P = 'configuration.runtime'

function check(value: unknown) {
  const copy = structuredClone(value)
  return { errors: schemaErrors(RuntimeConfigSchema, copy, P), value: copy }
}

describe('configuration.runtime shape', () => {
  it('accepts "process" and a docker runtime (defaults are containerSpecOf\'s: Ajv fills none inside a union)', () => {
    expect(check('process').errors).toEqual([])
    const { errors, value } = check({ type: 'docker', image: 'myntrix-test-busybox:1' })
    expect(errors).toEqual([])
    expect(value).toEqual({ type: 'docker', image: 'myntrix-test-busybox:1' })
  })

  it('names the field of each bad value', () => {
    const { errors } = check({
      type: 'docker',
      image: 'Bad Image',
      network: 'bridge',
      memoryMb: 2,
      cpus: 0,
      workingDir: 'relative',
      mounts: [{ source: 'rel', target: '/x' }],
      user: 'a b',
    })
    const paths = errors.map((e) => e.path)
    for (const field of ['image', 'memoryMb', 'cpus', 'workingDir', 'mounts.0.source', 'user']) {
      expect(
        paths.some((p) => p.startsWith(`${P}.${field}`)),
        field,
      ).toBe(true)
    }
    expect(paths.some((p) => p.startsWith(`${P}.network`) || p === P)).toBe(true)
  })

  it('refuses a docker runtime without an image and unknown runtimes', () => {
    expect(check({ type: 'docker' }).errors.length).toBeGreaterThan(0)
    expect(check('kubernetes').errors.length).toBeGreaterThan(0)
  })
})

describe('configuration.runtime messages', () => {
  it('says once what a runtime must be, at the field that is wrong', () => {
    expect(check('kubernetes').errors).toEqual([
      { path: P, message: 'must be "process" or {type: "docker", image, ...}, got "kubernetes"' },
    ])
    expect(check({ type: 'k8s', image: 'x' }).errors).toEqual([
      { path: `${P}.type`, message: 'must be "docker" (or the runtime "process"), got "k8s"' },
    ])
    expect(check({ type: 'docker', image: 'x', network: 'bridge' }).errors).toEqual([
      { path: `${P}.network`, message: 'must be "none" or "host", got "bridge"' },
    ])
    expect(check({ type: 'docker' }).errors.map((e) => e.path)).toEqual([`${P}.image`])
  })

  it('refuses an unknown field instead of dropping it (a misspelt limit would run unlimited)', () => {
    expect(check({ type: 'docker', image: 'x', memoryMB: 64 }).errors).toEqual([
      { path: `${P}.memoryMB`, message: 'unknown runtime field "memoryMB"' },
    ])
    expect(
      check({ type: 'docker', image: 'x', mounts: [{ source: '/srv', target: '/s', ro: true }] }).errors,
    ).toEqual([{ path: `${P}.mounts.0.ro`, message: 'unknown mount field "ro"' }])
  })
})

describe('mount paths', () => {
  const docker = (mounts: DockerRuntimeConfig['mounts']): DockerRuntimeConfig => ({
    type: 'docker',
    image: 'x',
    mounts,
  })

  it('allows a plain host directory', () => {
    expect(mountErrors(docker([{ source: '/srv/agent-data', target: '/data' }]))).toEqual([])
  })

  it("refuses the host's own trees, the engine socket, unnormalised paths and the server's data", () => {
    const errors = mountErrors(
      docker([
        { source: '/', target: '/host' },
        { source: '/var/run/docker.sock', target: '/var/run/docker.sock' },
        { source: '/proc/1', target: '/p' },
        { source: '/srv/../etc', target: '/e' },
        { source: '/var/lib/myntrix/db', target: '/d' },
        { source: '/var/lib', target: '/all' },
        { source: '/srv/ok', target: '/' },
      ]),
      ['/var/lib/myntrix'],
    )
    expect(errors.map((e) => e.path)).toEqual([
      `${P}.mounts.0.source`,
      `${P}.mounts.1.source`,
      `${P}.mounts.2.source`,
      `${P}.mounts.3.source`,
      `${P}.mounts.4.source`,
      `${P}.mounts.5.source`,
      `${P}.mounts.6.target`,
    ])
  })
})

describe('admin-only parts', () => {
  it('is nothing for a process agent or a plain container', () => {
    expect(adminOnlyFields(undefined)).toEqual([])
    expect(adminOnlyFields('process')).toEqual([])
    expect(adminOnlyFields({ type: 'docker', image: 'x', user: '1000:1000', network: 'none' })).toEqual([])
  })

  it('names host mounts, the host network and root', () => {
    for (const user of ['0', 'root', '0:0', 'root:wheel']) {
      expect(adminOnlyFields({ type: 'docker', image: 'x', user }).map((e) => e.path)).toEqual([`${P}.user`])
    }
    const all = adminOnlyFields({
      type: 'docker',
      image: 'x',
      network: 'host',
      mounts: [{ source: '/srv', target: '/srv' }],
    })
    expect(all.map((e) => e.path)).toEqual([`${P}.mounts`, `${P}.network`])
  })
})

describe('the container spec', () => {
  it('is null for a process agent', () => {
    expect(containerSpecOf(undefined)).toBeNull()
    expect(containerSpecOf('process')).toBeNull()
  })

  it('runs as nobody with no network and read-only mounts unless told otherwise', () => {
    expect(
      containerSpecOf({ type: 'docker', image: 'img:1', mounts: [{ source: '/srv', target: '/srv' }] }),
    ).toEqual({
      image: 'img:1',
      network: 'none',
      memoryMb: undefined,
      cpus: undefined,
      user: '65534:65534',
      workingDir: undefined,
      mounts: [{ source: '/srv', target: '/srv', readOnly: true }],
    })
  })
})
