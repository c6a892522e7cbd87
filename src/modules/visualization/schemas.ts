import { Type } from '@sinclair/typebox'

const Vec3 = Type.Tuple([Type.Number(), Type.Number(), Type.Number()])
const Nullable = <T extends import('@sinclair/typebox').TSchema>(t: T) => Type.Union([t, Type.Null()])
const Counts = Type.Record(Type.String(), Type.Integer())

export const SceneCoreSchema = Type.Object({
  id: Type.Literal('core'),
  position: Vec3,
  status: Type.String({ description: 'ok | busy | overloaded (host CPU or memory >= 70 / 90 %)' }),
  color: Type.String(),
  cpuPercent: Nullable(Type.Number()),
  memoryPercent: Nullable(Type.Number()),
})

export const SceneAgentSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  status: Type.String(),
  health: Type.Integer(),
  lastRun: Nullable(Type.String()),
  cpuPercent: Nullable(Type.Number()),
  memoryBytes: Nullable(Type.Number()),
  position: Vec3,
  orbit: Type.Object({
    radius: Type.Number(),
    speed: Type.Number({ description: 'radians per second' }),
    phase: Type.Number({ description: 'radians at t = 0' }),
  }),
  color: Type.String(),
  emissiveIntensity: Type.Number(),
  scale: Type.Number(),
  animation: Type.Union([
    Type.Literal('orbit'),
    Type.Literal('pulse'),
    Type.Literal('idle'),
    Type.Literal('blink'),
  ]),
})

export const SceneDeviceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  status: Type.String(),
  lastSeen: Nullable(Type.String()),
  telemetry: Nullable(Type.Record(Type.String(), Type.Unknown())),
  position: Vec3,
  color: Type.String(),
  pulse: Type.Number({ description: '1 = spoke just now, fading to 0 over 10 s' }),
  animation: Type.String(),
})

export const SceneLinkSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('agent-device'), Type.Literal('task-agent'), Type.Literal('task-device')]),
  source: Type.String(),
  target: Type.String(),
  label: Type.Optional(Type.String()),
  active: Type.Boolean(),
})

export const ScenePayloadSchema = Type.Object({
  timestamp: Type.String(),
  core: SceneCoreSchema,
  agents: Type.Array(SceneAgentSchema),
  devices: Type.Array(SceneDeviceSchema),
  links: Type.Array(SceneLinkSchema),
  summary: Type.Object({ agents: Counts, devices: Counts, jobs: Counts }),
})

export const StreamQuery = Type.Object({ token: Type.Optional(Type.String()) })
