// Names for the API's shapes, all taken from the generated schema: the console
// never types an API object by hand.

import type { paths } from './schema'

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never
type Ok<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: infer R
}
  ? R extends { 200: infer A }
    ? Json<A>
    : R extends { 201: infer C }
      ? Json<C>
      : never
  : never
type Body<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: infer B
}
  ? Json<NonNullable<B>>
  : never

export type Me = Ok<'/api/auth/me', 'get'>
export type User = Ok<'/api/auth/users/{id}', 'get'>
export type Role = User['role']
export type ApiKey = Ok<'/api/auth/api-keys', 'get'>[number]
export type NewApiKey = Ok<'/api/auth/api-keys', 'post'>

export type Agent = Ok<'/api/myntrix/agents/{id}', 'get'>
export type AgentStatus = Agent['status']
export type HealthDetails = NonNullable<Agent['healthDetails']>
export type CreateAgent = Body<'/api/myntrix/agents', 'post'>
export type UpdateAgent = Body<'/api/myntrix/agents/{id}', 'put'>
export type LogEntry = Ok<'/api/myntrix/agents/{id}/logs', 'get'>[number]

export type Device = Ok<'/api/myntrix/devices/{id}', 'get'>
export type Job = Ok<'/api/myntrix/jobs', 'get'>[number]
export type Task = Ok<'/api/myntrix/tasks/{id}', 'get'>
export type TaskRun = Ok<'/api/myntrix/tasks/history', 'get'>[number]
export type SystemMetrics = Ok<'/api/myntrix/system-metrics', 'get'>

export type Scene = Ok<'/api/myntrix/visualization-data', 'get'>
export type SceneAgent = Scene['agents'][number]
export type SceneDevice = Scene['devices'][number]
/** What /ws/myntrix/visualization sends after its snapshot: only what changed. */
export interface SceneDelta {
  timestamp: string
  agents: SceneAgent[]
  devices: SceneDevice[]
  removed: { agents: string[]; devices: string[] }
  core?: Scene['core']
  links?: Scene['links']
  summary?: Scene['summary']
}
export type AuditEntry = Ok<'/api/auth/audit', 'get'>[number]
