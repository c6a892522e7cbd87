// Overview: how many agents, devices, tasks and jobs there are and in which
// state, the host's CPU and memory now (with the last minutes drawn), and the
// latest failures, each linking to where it can be looked into.

import { useEffect, useMemo, useRef, useState } from 'react'
import { Link } from 'react-router'
import { toProblem } from '../../api/problem'
import { useScene } from '../../api/scene-feed'
import type { Scene } from '../../api/types'
import { Chart } from '../../ui/Chart'
import { formatAgo, formatPercent } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { ProblemView } from '../../ui/ProblemView'
import { StatusDot } from '../../ui/StatusDot'
import { useFailedJobs, useFailedRuns, useHostHistory, useRefreshOnJobCounts, useTaskCounts } from './hooks'

// One point a second (the history at 1 s steps, then the scene feed): fifteen minutes.
const HOST_WINDOW_SECONDS = 900
const HOST_POINTS = 900

function Counts({ title, counts, to }: { title: string; counts: Record<string, number>; to: string }) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0)
  return (
    <section className="card count-card" aria-labelledby={`count-${title}`}>
      <h2 id={`count-${title}`}>
        <Link to={to}>{title}</Link>
      </h2>
      <p className="big-number">{total}</p>
      <ul className="status-counts">
        {Object.entries(counts)
          .filter(([, n]) => n > 0)
          .map(([status, n]) => (
            <li key={status}>
              <StatusDot status={status} label={`${n} ${status}`} />
            </li>
          ))}
      </ul>
    </section>
  )
}

type HostSeries = { t: number[]; cpu: (number | null)[]; mem: (number | null)[] }

/** Appends a point unless it is not newer than the last one (a repeated or late figure). */
function pushPoint(p: HostSeries, t: number, cpu: number | null, mem: number | null): void {
  const last = p.t.at(-1)
  if (last !== undefined && last >= t) return
  p.t.push(t)
  p.cpu.push(cpu)
  p.mem.push(mem)
}

function trimPoints(p: HostSeries): void {
  const extra = p.t.length - HOST_POINTS
  if (extra > 0) for (const list of [p.t, p.cpu, p.mem]) list.splice(0, extra)
}

/**
 * The host's CPU and memory for the chart: the last minutes from the history endpoint, then each
 * figure the scene feed brings, newest last, at most HOST_POINTS.
 */
function useHostSeries(scene: Scene | undefined) {
  const history = useHostHistory()
  const points = useRef<HostSeries>({ t: [], cpu: [], mem: [] })
  const [version, setVersion] = useState(0)
  useEffect(() => {
    const h = history.data
    if (!h) return
    // History first, then whatever the feed already brought that is newer.
    const seeded: HostSeries = { t: [], cpu: [], mem: [] }
    h.timestamps.forEach((ts, i) => {
      pushPoint(seeded, Math.floor(new Date(ts).getTime() / 1000), h.cpu[i] ?? null, h.memory[i] ?? null)
    })
    const live = points.current
    live.t.forEach((t, i) => {
      pushPoint(seeded, t, live.cpu[i] ?? null, live.mem[i] ?? null)
    })
    trimPoints(seeded)
    points.current = seeded
    setVersion((v) => v + 1)
  }, [history.data])

  const core = scene?.core
  useEffect(() => {
    if (!core || !scene) return
    const p = points.current
    const before = p.t.length
    pushPoint(p, Math.floor(new Date(scene.timestamp).getTime() / 1000), core.cpuPercent, core.memoryPercent)
    if (p.t.length === before) return
    trimPoints(p)
    setVersion((v) => v + 1)
  }, [core, scene])
  // biome-ignore lint/correctness/useExhaustiveDependencies: version marks a change inside the ref
  return useMemo(
    () =>
      [[...points.current.t], [...points.current.cpu], [...points.current.mem]] as [
        number[],
        (number | null)[],
        (number | null)[],
      ],
    [version],
  )
}

const HOST_SERIES = [
  { label: 'CPU', color: '#2f7de1', format: (v: number) => formatPercent(v) },
  { label: 'Memory', color: '#a855f7', format: (v: number) => formatPercent(v) },
]

export default function OverviewPage() {
  const scene = useScene()
  const tasks = useTaskCounts()
  const failedJobs = useFailedJobs()
  const failedRuns = useFailedRuns()
  useRefreshOnJobCounts(scene.data)
  const host = useHostSeries(scene.data)

  if (!scene.data) return <QueryState what="the overview" error={scene.error} />
  const { summary, core } = scene.data
  const failingAgents = scene.data.agents.filter((a) => a.status === 'error')
  const failingDevices = scene.data.devices.filter((d) => d.status === 'error')

  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Overview</h1>
      <div className="cards">
        <Counts title="Agents" counts={summary.agents} to="/agents" />
        <Counts title="Devices" counts={summary.devices} to="/devices" />
        <section className="card count-card" aria-labelledby="count-Tasks">
          <h2 id="count-Tasks">
            <Link to="/tasks">Tasks</Link>
          </h2>
          {tasks.data ? (
            <>
              <p className="big-number">{tasks.data.total}</p>
              <ul className="status-counts">
                <li>
                  <StatusDot status="enabled" label={`${tasks.data.enabled} enabled`} />
                </li>
                <li>
                  <StatusDot status="disabled" label={`${tasks.data.disabled} disabled`} />
                </li>
              </ul>
            </>
          ) : (
            <QueryState what="tasks" error={tasks.error} />
          )}
        </section>
        <Counts title="Jobs" counts={summary.jobs} to="/resources" />
      </div>

      <section className="card" aria-labelledby="host-title">
        <h2 id="host-title">Host now</h2>
        <p className="host-now">
          <span>
            CPU <strong>{formatPercent(core.cpuPercent)}</strong>
          </span>
          <span>
            Memory <strong>{formatPercent(core.memoryPercent)}</strong>
          </span>
          <StatusDot status={core.status} label={`host ${core.status}`} />
        </p>
        <Chart
          title="Host CPU and memory, last 15 minutes"
          series={HOST_SERIES}
          data={host}
          yRange={[0, 100]}
          windowSeconds={HOST_WINDOW_SECONDS}
          height={160}
        />
      </section>

      <section className="card" aria-labelledby="failures-title">
        <h2 id="failures-title">Last failures</h2>
        {failedJobs.error && <ProblemView problem={toProblem(failedJobs.error)} />}
        {failedRuns.error && <ProblemView problem={toProblem(failedRuns.error)} />}
        <ul className="failures">
          {failingAgents.map((a) => (
            <li key={`agent-${a.id}`}>
              <StatusDot status={a.status} /> Agent <Link to={`/agents/${a.id}`}>{a.name}</Link>
            </li>
          ))}
          {failingDevices.map((d) => (
            <li key={`device-${d.id}`}>
              <StatusDot status={d.status} /> Device <Link to={`/devices/${d.id}`}>{d.name}</Link>
            </li>
          ))}
          {(failedRuns.data ?? []).map((r) => (
            <li key={`run-${r.id}`}>
              <StatusDot status={r.status} /> Run of task <Link to={`/tasks/${r.taskId}`}>{r.taskName}</Link>{' '}
              {formatAgo(r.endTime ?? r.startTime)}
            </li>
          ))}
          {(failedJobs.data ?? []).map((j) => (
            <li key={`job-${j.id}`}>
              <StatusDot status={j.status} /> Job <Link to={`/resources/jobs/${j.id}`}>{j.name}</Link>{' '}
              {j.error && <span className="muted">{j.error}</span>} {formatAgo(j.finishedAt ?? j.updatedAt)}
            </li>
          ))}
        </ul>
        {failingAgents.length +
          failingDevices.length +
          (failedRuns.data?.length ?? 0) +
          (failedJobs.data?.length ?? 0) ===
          0 && <p className="muted">No failures.</p>}
      </section>
    </section>
  )
}
