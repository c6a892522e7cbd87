// Table types as Kysely sees them through CamelCasePlugin: SQL columns are
// snake_case, these properties camelCase. Values arrive in engine-specific
// shapes (see values.ts), hence the wide types for times, JSON and booleans.

import type { ColumnType, Generated, Kysely } from 'kysely'

export type DbTime = ColumnType<Date | string, string, string>
export type DbTimeNullable = ColumnType<Date | string | null, string | null | undefined, string | null>
export type DbJson = ColumnType<unknown, string | null | undefined, string | null>
export type DbBool = ColumnType<boolean | number, number, number>
export type DbInt = ColumnType<number | string, number, number>

export interface UsersTable {
  id: string
  username: string
  passwordHash: string
  role: string
  disabled: DbBool
  /** Bumped when every credential issued so far must stop working (password change, disabling). */
  tokenVersion: Generated<number>
  createdAt: DbTime
  updatedAt: DbTime
}

export interface AuthSessionsTable {
  id: string
  /** sha256 of the cookie value; the value itself is never stored. */
  tokenHash: string
  userId: string
  tokenVersion: number
  createdAt: DbTime
  expiresAt: DbTime
}

export interface RevokedTokensTable {
  jti: string
  userId: string | null
  expiresAt: DbTime
}

export interface ApiKeysTable {
  id: string
  userId: string
  name: string
  /** Public, indexed part of the key used to find the row; the rest is only stored hashed. */
  prefix: string
  keyHash: string
  /** The user's token version when the key was made; a key whose version is behind its user's is revoked. */
  tokenVersion: Generated<number>
  createdAt: DbTime
  lastUsedAt: DbTimeNullable
  expiresAt: DbTimeNullable
  revokedAt: DbTimeNullable
}

export interface AuditLogTable {
  id: string
  at: DbTime
  userId: string | null
  username: string | null
  action: string
  target: string | null
  method: string | null
  path: string | null
  statusCode: number | null
  ip: string | null
  details: DbJson
}

export interface AgentsTable {
  id: string
  name: string
  type: string
  status: string
  desiredState: string
  health: number
  healthDetails: DbJson
  lastRun: DbTimeNullable
  configuration: DbJson
  ownerId: string
  pid: number | null
  /** Start time of the recorded pid (jiffies since boot, /proc/<pid>/stat field 22) to recognise pid reuse. */
  pidStartTime: string | null
  startedAt: DbTimeNullable
  restarts: number
  lastExit: DbJson
  statusReason: string | null
  createdAt: DbTime
  updatedAt: DbTime
  /** The node name the agent runs on; null = any node (migration 0900). */
  nodeAffinity: string | null
  /** The node name that recorded pid/pidStartTime: only that node may end the process as an orphan. */
  processNode: string | null
}

export interface DevicesTable {
  id: string
  name: string
  type: string
  connectionString: string
  status: string
  lastSeen: DbTimeNullable
  firmwareVersion: string | null
  configuration: DbJson
  ownerId: string
  lastError: string | null
  /** The operator asked for the connection to be open: reopened after a restart. */
  desiredConnected: DbBool
  /** The node name that may hold the device (a serial port's host); null: any node. */
  nodeAffinity: string | null
  createdAt: DbTime
  updatedAt: DbTime
}

export interface JobsTable {
  id: string
  name: string
  type: string
  status: string
  progress: number
  createdAt: DbTime
  updatedAt: DbTime
  logs: string | null
  details: DbJson
  ownerId: string | null
  startedAt: DbTimeNullable
  finishedAt: DbTimeNullable
  error: string | null
  /** The Myntrix process (AreaContext.instanceId) running the job. */
  instanceId: string | null
  /** Where the job stood when last written (an interrupted transfer restarts from it). */
  checkpoint: DbJson
  /** The job this one restarts. */
  restartOf: string | null
  /** Who keeps this pending job until it is dispatched ('device-queue'); never reaped while pending. */
  queuedBy: string | null
  /** Who started it: user:<id>, api-key:<id>, scheduler, queue; null for system work. */
  startedBy: string | null
}

export interface ScheduledTasksTable {
  id: string
  name: string
  description: string | null
  schedule: string
  action: string
  payload: DbJson
  enabled: DbBool
  timezone: string
  overlapPolicy: string
  timeoutMs: number | null
  maxRetries: number
  retryDelayMs: number
  misfireGraceMs: number
  nextRunAt: DbTimeNullable
  ownerId: string
  createdAt: DbTime
  updatedAt: DbTime
}

export interface TaskRunsTable {
  id: string
  taskId: string
  /** The cron occurrence this run belongs to; null for manual runs. UNIQUE with taskId. */
  scheduledFor: DbTimeNullable
  startTime: DbTimeNullable
  endTime: DbTimeNullable
  status: string
  logs: string | null
  attempt: number
  trigger: string
  jobId: string | null
  error: string | null
  /** The process (nodes.id) that claimed the run (migration 0401). */
  claimedBy: string | null
  /** The process group a `script` run started, kept until the run ends (migration 0701). */
  pid: number | null
  /** Start time of that pid, as in AgentsTable, to recognise pid reuse. */
  pidStartTime: string | null
  createdAt: DbTime
}

/** One Myntrix server process on this database, with its heartbeat (src/process/liveness.ts). */
export interface NodesTable {
  id: string
  hostname: string | null
  pid: number | null
  startedAt: DbTime
  heartbeatAt: DbTime
  /** The node's stable name (MYNTRIX_NODE_NAME; migration 0900). */
  name: string | null
  /** When the membership lapses without a renewal; null for a row written without one. */
  expiresAt: DbTimeNullable
}

/** Who holds a resource (src/cluster/leases.ts; migration 0900). */
export interface ResourceLeasesTable {
  kind: string
  id: string
  holderNodeId: string | null
  holderName: string | null
  /** Goes up by one each time the holder changes: the fencing token. */
  epoch: number | string
  expiresAt: DbTimeNullable
  affinity: string | null
  acquiredAt: DbTimeNullable
}

export interface SystemMetricsHistoryTable {
  /** Start of the one-minute bucket. */
  bucketStart: DbTime
  samples: number
  cpuAvg: number
  cpuMax: number
  memoryAvg: number
  memoryMax: number
  memoryUsedBytes: DbInt | null
  load1: number | null
  diskPercent: number | null
  netRxBytesPerSec: number | null
  netTxBytesPerSec: number | null
}

export interface SceneGroupsTable {
  kind: string
  groupKey: string
  groupIndex: number
}

export interface SceneSlotsTable {
  entityId: string
  kind: string
  ring: number
  slot: number
}

export interface NotificationRulesTable {
  id: string
  name: string
  ownerId: string
  enabled: DbBool
  filter: DbJson
  cooldownSeconds: number
  sinkType: string
  sink: DbJson
  sinkSecret: string | null
  createdAt: DbTime
  updatedAt: DbTime
}

export interface AlertRulesTable {
  id: string
  name: string
  ownerId: string
  enabled: DbBool
  source: string
  metric: string
  deviceId: string | null
  kind: string
  operator: string | null
  threshold: number | null
  clearThreshold: number | null
  targetMetric: string | null
  delta: number | null
  warmUpExempt: DbBool
  /** disk.percent rules: the mount point (migration 1000); null: the data directory's filesystem. */
  mount: string | null
  actions: DbJson
  forSeconds: number
  cooldownSeconds: number
  createdAt: DbTime
  updatedAt: DbTime
}

export interface AlertsTable {
  id: string
  ruleId: string
  ownerId: string
  resourceType: string
  resourceId: string
  state: string
  value: number | null
  startedAt: DbTime
  firedAt: DbTimeNullable
  endedAt: DbTimeNullable
  notified: DbBool
  acknowledgedAt: DbTimeNullable
  acknowledgedBy: string | null
  transitions: DbJson
  updatedAt: DbTime
  /** The node that raised it (MYNTRIX_NODE_NAME; migration 1000); null on older rows. */
  node: string | null
}

export interface NotificationDeliveriesTable {
  id: string
  ruleId: string
  eventId: string
  eventKind: string
  resourceType: string | null
  resourceId: string | null
  /** The exact JSON text sent (and signed) at every attempt. */
  body: string
  status: string
  attempts: number
  maxAttempts: number
  nextAttemptAt: DbTimeNullable
  claimedBy: string | null
  claimedUntil: DbTimeNullable
  lastStatusCode: number | null
  lastError: string | null
  createdAt: DbTime
  updatedAt: DbTime
  deliveredAt: DbTimeNullable
}

export interface NotificationAttemptsTable {
  id: string
  deliveryId: string
  attempt: number
  startedAt: DbTime
  durationMs: number
  statusCode: number | null
  error: string | null
  outcome: string
  nextAttemptAt: DbTimeNullable
}

export interface NotificationCooldownsTable {
  ruleId: string
  resourceKey: string
  lastSentAt: DbTime
  suppressed: number
}

export interface DB {
  users: UsersTable
  apiKeys: ApiKeysTable
  authSessions: AuthSessionsTable
  revokedTokens: RevokedTokensTable
  auditLog: AuditLogTable
  agents: AgentsTable
  devices: DevicesTable
  jobs: JobsTable
  scheduledTasks: ScheduledTasksTable
  taskRuns: TaskRunsTable
  nodes: NodesTable
  resourceLeases: ResourceLeasesTable
  systemMetricsHistory: SystemMetricsHistoryTable
  sceneGroups: SceneGroupsTable
  sceneSlots: SceneSlotsTable
  notificationRules: NotificationRulesTable
  notificationDeliveries: NotificationDeliveriesTable
  notificationAttempts: NotificationAttemptsTable
  notificationCooldowns: NotificationCooldownsTable
  alertRules: AlertRulesTable
  alerts: AlertsTable
}

export type Database = Kysely<DB>
export type DbEngine = 'sqlite' | 'postgres'
