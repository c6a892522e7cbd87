// Request and response schemas of the agents API, and the record -> JSON view.

import { type Static, Type } from '@sinclair/typebox'
import { ListQuery } from '../../http/list.js'
import { NameString } from '../../names.js'
import { NodeAffinitySchema } from './affinity.js'
import { AGENT_STATUSES, type AgentFacts } from './agent-entry.js'
import { AgentConfigurationSchema } from './config.js'
import { HEALTH_WEIGHTS } from './health.js'
import type { LogEntry } from './log-buffer.js'
import type { AgentRecord } from './repository.js'

export const AgentStatusSchema = Type.Union(
  AGENT_STATUSES.map((s) => Type.Literal(s)),
  { description: AGENT_STATUSES.join(' | ') },
)
export const DesiredStateSchema = Type.Union([Type.Literal('running'), Type.Literal('stopped')])

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])
const Time = Type.String({ format: 'date-time' })

const HealthPartSchema = Type.Object({ score: Type.Integer(), max: Type.Integer(), detail: Type.String() })
export const HealthDetailsSchema = Type.Object(
  {
    liveness: HealthPartSchema,
    check: HealthPartSchema,
    recentRestarts: HealthPartSchema,
    memory: HealthPartSchema,
    cpu: HealthPartSchema,
  },
  {
    description: `health = sum of the parts' scores (weights ${Object.entries(HEALTH_WEIGHTS)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}), 0 when the process is not running`,
  },
)

const CONFIGURATION_DESCRIPTION =
  'Supervisor keys: command (argv array, or a string split like a shell would but run without one), cwd, ' +
  'env (string map), restartPolicy (always | on-failure | never, default on-failure), maxRestarts (default 5) ' +
  'within restartWindowMs (default 60000), stopTimeoutMs (default 10000), healthCheck ({type:"http", url, ' +
  'intervalMs, timeoutMs} or {type:"heartbeat", timeoutMs}: the agent prints {"myntrix":"heartbeat"} on stdout), ' +
  'maxMemoryMb. Every other key is the agent’s own and reaches it as JSON in MYNTRIX_AGENT_CONFIG.'

/** A configuration as answered: what was stored, described (requests are checked against AgentConfigurationSchema). */
export const ConfigurationSchema = Type.Object(
  {},
  { additionalProperties: true, description: CONFIGURATION_DESCRIPTION },
)

/** A configuration in a request: every supervisor key's shape, or null for none. */
const ConfigurationBody = Type.Union([AgentConfigurationSchema, Type.Null()], {
  description: CONFIGURATION_DESCRIPTION,
})

export const LastExitSchema = Type.Object({
  code: Nullable(Type.Integer()),
  signal: Nullable(Type.String()),
  at: Time,
  oomKilled: Type.Boolean({
    description: "the kernel's OOM killer ended it at runtime.memoryMb (containers)",
  }),
})

export const AgentSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  status: AgentStatusSchema,
  statusReason: Nullable(Type.String()),
  desiredState: DesiredStateSchema,
  health: Type.Integer({ minimum: 0, maximum: 100 }),
  healthDetails: Nullable(HealthDetailsSchema),
  lastRun: Nullable(Time),
  configuration: ConfigurationSchema,
  ownerId: Type.String(),
  nodeAffinity: NodeAffinitySchema,
  createdAt: Time,
  updatedAt: Time,
  pid: Nullable(Type.Integer()),
  startedAt: Nullable(Time),
  restarts: Type.Integer({ minimum: 0 }),
  lastExit: Nullable(LastExitSchema),
  containerId: Nullable(Type.String({ description: "the running container's engine id (docker runtime)" })),
  cpuPercent: Nullable(Type.Number({ description: 'whole process tree, % of one core' })),
  memoryBytes: Nullable(Type.Integer({ description: 'resident memory of the whole process tree' })),
})
export type AgentView = Static<typeof AgentSchema>

export const CreateAgentBody = Type.Object(
  {
    name: NameString({ maxLength: 200 }),
    type: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'free text; default "generic"' }),
    ),
    configuration: Type.Optional(ConfigurationBody),
    nodeAffinity: Type.Optional(NodeAffinitySchema),
  },
  { additionalProperties: false },
)
export type CreateAgentBody = Static<typeof CreateAgentBody>

export const UpdateAgentBody = Type.Object(
  {
    name: Type.Optional(NameString({ maxLength: 200 })),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    configuration: Type.Optional(ConfigurationBody),
    nodeAffinity: Type.Optional(NodeAffinitySchema),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type UpdateAgentBody = Static<typeof UpdateAgentBody>

export const AgentIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) })

export const AgentListQuery = Type.Object({ ...ListQuery.properties })

export const LogsQuery = Type.Object({
  tail: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 10_000, description: 'newest lines to return (default 100)' }),
  ),
})

export const LogEntrySchema = Type.Object({
  seq: Nullable(
    Type.Integer({ description: 'per agent and server run; null for lines read back from the log file' }),
  ),
  stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
  line: Type.String(),
  ts: Time,
})
export type LogEntryView = Static<typeof LogEntrySchema>

/** A supervisor's log line as answered. */
export function logView(e: LogEntry): LogEntryView {
  return { seq: e.seq, stream: e.stream, line: e.line, ts: e.ts.toISOString() }
}

export const DeletedSchema = Type.Object({ message: Type.String(), id: Type.String() })

/** The stored record with the supervisor's live facts on top, when it has any. */
export function agentView(record: AgentRecord, facts: AgentFacts | null): AgentView {
  const startedAt = facts ? facts.startedAt : record.startedAt
  const lastRun = latest(record.lastRun, facts?.startedAt ?? null)
  const lastExit = facts
    ? facts.lastExit && {
        code: facts.lastExit.code,
        signal: facts.lastExit.signal,
        at: facts.lastExit.at.toISOString(),
        oomKilled: facts.lastExit.oomKilled === true,
      }
    : record.lastExit && { ...record.lastExit, oomKilled: record.lastExit.oomKilled === true }
  return {
    id: record.id,
    name: record.name,
    type: record.type,
    status: facts?.status ?? record.status,
    statusReason: facts ? facts.reason : record.statusReason,
    desiredState: record.desiredState,
    health: facts?.health ?? record.health,
    healthDetails: facts?.healthDetails ?? record.healthDetails,
    lastRun: lastRun?.toISOString() ?? null,
    configuration: record.configuration,
    ownerId: record.ownerId,
    nodeAffinity: record.nodeAffinity,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
    // Not supervised here: the pid another node (the holder) recorded, if it runs.
    pid: facts ? facts.pid : (record.process?.pid ?? null),
    startedAt: startedAt?.toISOString() ?? null,
    restarts: facts?.restarts ?? record.restarts,
    lastExit: lastExit ?? null,
    containerId: facts?.containerId ?? null,
    cpuPercent: facts?.cpuPercent ?? null,
    memoryBytes: facts?.memoryBytes ?? null,
  }
}

function latest(a: Date | null, b: Date | null): Date | null {
  if (!a) return b
  if (!b) return a
  return a > b ? a : b
}
