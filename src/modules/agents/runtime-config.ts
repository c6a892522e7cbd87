// `configuration.runtime`: where an agent runs. "process" (the default) is a local
// process; {type: "docker", image, ...} is a container. This file states the shape,
// turns it into what the Docker runtime takes, and says which parts only an admin may
// ask for: a host mount, the host's network or root inside the container each give
// the agent a way out of its container.

import { posix } from 'node:path'
import { type Static, Type } from '@sinclair/typebox'
import type { FieldError } from '../../errors.js'
import type { ContainerSpec } from './runtimes/types.js'

/** The engine refuses a memory limit under 6 MB. */
const MIN_MEMORY_MB = 6

/** An unknown field is refused, not dropped: a misspelt `memoryMb` would otherwise run the container unlimited. */
const closed = (what: string) => ({
  additionalProperties: Type.Never({ 'x-message': `unknown ${what} field {field}` }),
})

const AbsolutePath = Type.String({ minLength: 1, maxLength: 4096, pattern: '^/' })

export const ContainerMountSchema = Type.Object(
  {
    source: Type.String({ ...AbsolutePath, description: 'host path (absolute)' }),
    target: Type.String({ ...AbsolutePath, description: 'path inside the container (absolute)' }),
    readOnly: Type.Optional(Type.Boolean({ default: true })),
  },
  closed('mount'),
)

export const DockerRuntimeSchema = Type.Object(
  {
    type: Type.Literal('docker', { 'x-message': 'must be "docker" (or the runtime "process"), got {got}' }),
    image: Type.String({
      minLength: 1,
      maxLength: 255,
      // repository[:tag][@digest], as the engine names images; no spaces, no options.
      pattern: '^[a-z0-9][a-z0-9._/:@-]*$',
      description: 'an image present on the engine (Myntrix does not pull)',
    }),
    command: Type.Optional(
      Type.Array(Type.String(), {
        minItems: 1,
        description: "argv inside the container; the image's own command when absent",
      }),
    ),
    env: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String(), {
        additionalProperties: false,
      }),
    ),
    workingDir: Type.Optional(AbsolutePath),
    mounts: Type.Optional(Type.Array(ContainerMountSchema, { maxItems: 32 })),
    network: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('host')], {
        default: 'none',
        description: 'none (the default) or the host network (admins only)',
        'x-message': 'must be "none" or "host", got {got}',
      }),
    ),
    cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1024 })),
    memoryMb: Type.Optional(Type.Integer({ minimum: MIN_MEMORY_MB, maximum: 1_048_576 })),
    user: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$',
        description: 'user[:group] inside the container, by name or number; 65534:65534 (nobody) when absent',
      }),
    ),
  },
  closed('runtime'),
)

export const RuntimeConfigSchema = Type.Union([Type.Literal('process'), DockerRuntimeSchema], {
  description: '"process" (the default) or {type:"docker", image, ...}',
  // By keyword: a docker runtime's own field errors keep their paths (a union reports the branch meant).
  'x-message': { anyOf: 'must be "process" or {type: "docker", image, ...}, got {got}' },
})

export type DockerRuntimeConfig = Static<typeof DockerRuntimeSchema>
export type RuntimeConfig = Static<typeof RuntimeConfigSchema>

/** Host paths no agent gets, admin or not: the engine's own socket is root on the host,
 * and the kernel's and devices' trees are the host itself. */
const FORBIDDEN_SOURCES = ['/', '/proc', '/sys', '/dev', '/boot', '/var/run/docker.sock', '/run/docker.sock']

function within(path: string, root: string): boolean {
  return path === root || (root !== '/' && path.startsWith(`${root}/`))
}

/**
 * Mount paths that are not allowed: not normalised (`..`, `//`, a trailing `/`), one
 * of the host's own trees, inside `deniedRoots` (e.g. the server's data directory,
 * with its database and secrets), or a target over the container's root.
 */
export function mountErrors(
  runtime: DockerRuntimeConfig,
  deniedRoots: readonly string[] = [],
  prefix = 'configuration.runtime',
): FieldError[] {
  const errors: FieldError[] = []
  for (const [i, m] of (runtime.mounts ?? []).entries()) {
    const at = `${prefix}.mounts.${i}`
    if (posix.normalize(m.source) !== m.source || m.source.split('/').includes('..')) {
      errors.push({ path: `${at}.source`, message: 'must be a normalised absolute path' })
    } else if (
      FORBIDDEN_SOURCES.some((root) => m.source === root || (root !== '/' && within(m.source, root)))
    ) {
      errors.push({ path: `${at}.source`, message: `${m.source} may not be mounted into a container` })
    } else if (deniedRoots.some((root) => within(m.source, root) || within(root, m.source))) {
      errors.push({ path: `${at}.source`, message: `${m.source} holds the server's own data` })
    }
    if (posix.normalize(m.target) !== m.target || m.target === '/') {
      errors.push({ path: `${at}.target`, message: 'must be a normalised absolute path other than /' })
    }
  }
  return errors
}

/** Whether a user string means root inside the container (0 or root, any group). */
function isRootUser(user: string): boolean {
  const name = user.split(':')[0]
  return name === '0' || name === 'root'
}

/** The fields only an admin may set, as paths with the reason (empty for a process agent). */
export function adminOnlyFields(
  runtime: RuntimeConfig | undefined,
  prefix = 'configuration.runtime',
): FieldError[] {
  if (!runtime || runtime === 'process') return []
  const out: FieldError[] = []
  if ((runtime.mounts ?? []).length > 0) {
    out.push({ path: `${prefix}.mounts`, message: 'only an admin may mount host paths into a container' })
  }
  if (runtime.network === 'host') {
    out.push({ path: `${prefix}.network`, message: "only an admin may give a container the host's network" })
  }
  if (runtime.user !== undefined && isRootUser(runtime.user)) {
    out.push({ path: `${prefix}.user`, message: 'only an admin may run a container as root' })
  }
  return out
}

/** Who runs in a container unless the configuration says: nobody, as for local processes
 * (most images would run as root, which only an admin may ask for). */
export const DEFAULT_CONTAINER_USER = '65534:65534'

/** What the Docker runtime takes, or null for a process agent. */
export function containerSpecOf(runtime: RuntimeConfig | undefined): ContainerSpec | null {
  if (!runtime || runtime === 'process') return null
  return {
    image: runtime.image,
    network: runtime.network ?? 'none',
    memoryMb: runtime.memoryMb,
    cpus: runtime.cpus,
    user: runtime.user ?? DEFAULT_CONTAINER_USER,
    workingDir: runtime.workingDir,
    mounts: (runtime.mounts ?? []).map((m) => ({
      source: m.source,
      target: m.target,
      readOnly: m.readOnly ?? true,
    })),
  }
}
