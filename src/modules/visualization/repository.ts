// Reads what the scene shows, scoped to an owner (null = everything).
// One query per table, narrow columns: the payload for 1,000 agents and
// 1,000 devices must build in well under 20 ms.

import type { Database } from '../../db/types.js'
import { fromDbInt, fromDbJson, fromDbTime } from '../../db/values.js'

export interface AgentRow {
  id: string
  name: string
  type: string
  status: string
  health: number
  lastRun: Date | null
  configuration: unknown
  ownerId: string
}

export interface DeviceRow {
  id: string
  name: string
  type: string
  status: string
  lastSeen: Date | null
  ownerId: string
}

export interface TaskRow {
  id: string
  name: string
  payload: unknown
  ownerId: string
}

export interface ActiveJobRow {
  id: string
  type: string
  status: string
  details: Record<string, unknown> | null
}

export interface SceneData {
  agents: AgentRow[]
  devices: DeviceRow[]
  tasks: TaskRow[]
  runningTaskIds: Set<string>
  activeJobs: ActiveJobRow[]
  jobCounts: Record<string, number>
}

export class SceneRepository {
  constructor(private readonly db: Database) {}

  async load(ownerId: string | null): Promise<SceneData> {
    let agentsQ = this.db
      .selectFrom('agents')
      .select(['id', 'name', 'type', 'status', 'health', 'lastRun', 'configuration', 'ownerId'])
    let devicesQ = this.db
      .selectFrom('devices')
      .select(['id', 'name', 'type', 'status', 'lastSeen', 'ownerId'])
    let tasksQ = this.db.selectFrom('scheduledTasks').select(['id', 'name', 'payload', 'ownerId'])
    let runningQ = this.db
      .selectFrom('taskRuns')
      .innerJoin('scheduledTasks', 'scheduledTasks.id', 'taskRuns.taskId')
      .select('taskRuns.taskId')
      .where('taskRuns.status', '=', 'running')
    let jobsQ = this.db
      .selectFrom('jobs')
      .select(['id', 'type', 'status', 'details'])
      .where('status', 'in', ['running', 'pending'])
    let countsQ = this.db
      .selectFrom('jobs')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
    if (ownerId !== null) {
      agentsQ = agentsQ.where('ownerId', '=', ownerId)
      devicesQ = devicesQ.where('ownerId', '=', ownerId)
      tasksQ = tasksQ.where('ownerId', '=', ownerId)
      runningQ = runningQ.where('scheduledTasks.ownerId', '=', ownerId)
      jobsQ = jobsQ.where('ownerId', '=', ownerId)
      countsQ = countsQ.where('ownerId', '=', ownerId)
    }
    const [agents, devices, tasks, running, jobs, counts] = await Promise.all([
      agentsQ.execute(),
      devicesQ.execute(),
      tasksQ.execute(),
      runningQ.execute(),
      jobsQ.execute(),
      countsQ.execute(),
    ])
    return {
      agents: agents.map((a) => ({
        id: a.id,
        name: a.name,
        type: a.type,
        status: a.status,
        health: fromDbInt(a.health),
        lastRun: fromDbTime(a.lastRun),
        configuration: fromDbJson(a.configuration),
        ownerId: a.ownerId,
      })),
      devices: devices.map((d) => ({
        id: d.id,
        name: d.name,
        type: d.type,
        status: d.status,
        lastSeen: fromDbTime(d.lastSeen),
        ownerId: d.ownerId,
      })),
      tasks: tasks.map((t) => ({
        id: t.id,
        name: t.name,
        payload: fromDbJson(t.payload),
        ownerId: t.ownerId,
      })),
      runningTaskIds: new Set(running.map((r) => r.taskId)),
      activeJobs: jobs.map((j) => ({
        id: j.id,
        type: j.type,
        status: j.status,
        details: fromDbJson(j.details),
      })),
      jobCounts: Object.fromEntries(counts.map((c) => [c.status, Number(c.n)])),
    }
  }

  async allIds(): Promise<{ agents: Set<string>; devices: Set<string> }> {
    const [agents, devices] = await Promise.all([
      this.db.selectFrom('agents').select('id').execute(),
      this.db.selectFrom('devices').select('id').execute(),
    ])
    return { agents: new Set(agents.map((a) => a.id)), devices: new Set(devices.map((d) => d.id)) }
  }
}
