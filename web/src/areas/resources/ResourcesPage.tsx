// Resources: the host's CPU, memory, disk and network over a chosen window
// (15 m, 1 h, 24 h, 7 d), and the jobs ledger with filters, progress and
// cancel. A job's own page (/resources/jobs/:id) shows its details and logs.

import { useMemo, useState } from 'react'
import { Link, Route, Routes, useParams } from 'react-router'
import type uPlot from 'uplot'
import { allows, useSession } from '../../api/session'
import { Chart } from '../../ui/Chart'
import { formatBytes, formatPercent, formatTime } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { StatusDot } from '../../ui/StatusDot'
import '../pages.css'
import { useHistory, WINDOWS, type Window } from './hooks'
import { JobsTable } from './JobsTable'
import { useJob, useJobsFeed } from './jobs'
import { Progress } from './Progress'
import { canRestart, RestartJob } from './RestartJob'

export default function ResourcesPage() {
  const feed = useJobsFeed()
  return (
    <Routes>
      <Route index element={<Resources feed={feed} />} />
      <Route path="jobs/:id" element={<JobPage />} />
    </Routes>
  )
}

const WINDOW_SECONDS: Record<Window, number> = { '15m': 900, '1h': 3600, '24h': 86_400, '7d': 604_800 }
const pct = (v: number) => formatPercent(v)
const rate = (v: number) => `${formatBytes(v)}/s`
const CPU_SERIES = [
  { label: 'CPU average', color: '#2f7de1', format: pct },
  { label: 'CPU peak', color: '#9cc1f0', format: pct },
]
const MEMORY_SERIES = [
  { label: 'Memory average', color: '#a855f7', format: pct },
  { label: 'Memory peak', color: '#d8b4fe', format: pct },
]
const DISK_SERIES = [{ label: 'Disk used', color: '#e07b0c', format: pct }]
const NETWORK_SERIES = [
  { label: 'Received', color: '#1a9c4a', format: rate },
  { label: 'Sent', color: '#d1343b', format: rate },
]

function Resources({ feed }: { feed: string }) {
  const { me } = useSession()
  const [window, setWindow] = useState<Window>('15m')
  const history = useHistory(window)
  const h = history.data?.history
  const t = useMemo(() => (h?.timestamps ?? []).map((x) => new Date(x).getTime() / 1000), [h])
  const cpu = useMemo<uPlot.AlignedData>(() => [t, h?.cpu ?? [], h?.cpuMax ?? []], [t, h])
  const memory = useMemo<uPlot.AlignedData>(() => [t, h?.memory ?? [], h?.memoryMax ?? []], [t, h])
  const disk = useMemo<uPlot.AlignedData>(() => [t, h?.disk ?? []], [t, h])
  const network = useMemo<uPlot.AlignedData>(() => [t, h?.netRx ?? [], h?.netTx ?? []], [t, h])
  const now = history.data
  const avg = (xs: number[] | undefined) => (xs?.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null)

  return (
    <section aria-labelledby="page-title">
      <div className="page-head">
        <h1 id="page-title">Resources</h1>
        <fieldset className="segmented" aria-label="Window">
          {WINDOWS.map((w) => (
            <button key={w} type="button" aria-pressed={w === window} onClick={() => setWindow(w)}>
              {w.replace('m', ' m').replace('h', ' h').replace('d', ' d')}
            </button>
          ))}
        </fieldset>
        {feed !== 'open' && <StatusDot status={feed} label={`jobs feed ${feed}`} />}
      </div>
      {!now ? (
        <QueryState what="host metrics" error={history.error} />
      ) : (
        <>
          <dl className="stats">
            <div>
              <dt>CPU now ({now.cpu.cores} cores)</dt>
              <dd>{formatPercent(now.cpu.percent)}</dd>
            </div>
            <div>
              <dt>CPU average ({window})</dt>
              <dd>{formatPercent(avg(h?.cpu))}</dd>
            </div>
            <div>
              <dt>Memory now</dt>
              <dd>
                {formatBytes(now.memory.usedBytes)} / {formatBytes(now.memory.totalBytes)}
              </dd>
            </div>
            <div>
              <dt>Disk ({now.disk?.path ?? '—'})</dt>
              <dd>
                {now.disk ? `${formatBytes(now.disk.usedBytes)} / ${formatBytes(now.disk.totalBytes)}` : '—'}
              </dd>
            </div>
            <div>
              <dt>Load 1 / 5 / 15 min</dt>
              <dd>
                {now.load.one.toFixed(2)} / {now.load.five.toFixed(2)} / {now.load.fifteen.toFixed(2)}
              </dd>
            </div>
          </dl>
          <div className="chart-grid">
            <section className="card" aria-labelledby="cpu-title">
              <h2 id="cpu-title">CPU</h2>
              <Chart
                key={window}
                title={`CPU %, last ${window}`}
                series={CPU_SERIES}
                data={cpu}
                yRange={[0, 100]}
                windowSeconds={WINDOW_SECONDS[window]}
              />
              <p className="muted">
                {cpu[0].length} buckets of {h ? `${h.stepMs / 1000} s` : '—'} ({h?.source ?? '—'})
              </p>
            </section>
            <section className="card" aria-labelledby="memory-title">
              <h2 id="memory-title">Memory</h2>
              <Chart
                key={window}
                title={`Memory %, last ${window}`}
                series={MEMORY_SERIES}
                data={memory}
                yRange={[0, 100]}
                windowSeconds={WINDOW_SECONDS[window]}
              />
              <p className="muted">{memory[0].length} buckets</p>
            </section>
            <section className="card" aria-labelledby="disk-title">
              <h2 id="disk-title">Disk</h2>
              <Chart
                key={window}
                title={`Disk used %, last ${window}`}
                series={DISK_SERIES}
                data={disk}
                yRange={[0, 100]}
                windowSeconds={WINDOW_SECONDS[window]}
              />
              <p className="muted">
                {now.disk ? `${now.disk.path}, ${formatPercent(now.disk.percent)} now` : 'no disk read'}
              </p>
            </section>
            <section className="card" aria-labelledby="network-title">
              <h2 id="network-title">Network</h2>
              <Chart
                key={window}
                title={`Network bytes per second, last ${window}`}
                series={NETWORK_SERIES}
                data={network}
                windowSeconds={WINDOW_SECONDS[window]}
              />
              <p className="muted">
                now {rate(now.network.rxBytesPerSec)} in, {rate(now.network.txBytesPerSec)} out (averages per
                bucket)
              </p>
            </section>
          </div>
        </>
      )}
      <JobsTable canOperate={allows(me?.role, 'operator')} isAdmin={allows(me?.role, 'admin')} />
    </section>
  )
}

function JobPage() {
  const { id = '' } = useParams()
  const job = useJob(id)
  const { me } = useSession()
  if (!job.data) {
    return (
      <section aria-labelledby="page-title">
        <h1 id="page-title">Job</h1>
        <QueryState what="the job" error={job.error} />
        <p>
          <Link to="/resources">Resources</Link>
        </p>
      </section>
    )
  }
  const j = job.data
  return (
    <section aria-labelledby="page-title">
      <p className="crumbs">
        <Link to="/resources">Resources</Link> /
      </p>
      <div className="page-head">
        <h1 id="page-title">{j.name}</h1>
        <StatusDot status={j.status} />
        {allows(me?.role, 'operator') && canRestart(j) && <RestartJob job={j} />}
      </div>
      <section className="card" aria-labelledby="job-facts">
        <h2 id="job-facts">Job</h2>
        <dl className="facts">
          <dt>Type</dt>
          <dd>{j.type}</dd>
          <dt>Progress</dt>
          <dd>
            <Progress value={j.progress} label={`Progress of ${j.name}`} />
          </dd>
          <dt>Created</dt>
          <dd>{formatTime(j.createdAt)}</dd>
          <dt>Started by</dt>
          <dd>{j.startedBy ?? '—'}</dd>
          {j.restartOf && (
            <>
              <dt>Restart of</dt>
              <dd>
                <Link to={`/resources/jobs/${j.restartOf}`}>{j.restartOf}</Link>
              </dd>
            </>
          )}
          <dt>Started</dt>
          <dd>{formatTime(j.startedAt, '—')}</dd>
          <dt>Finished</dt>
          <dd>{formatTime(j.finishedAt, '—')}</dd>
          {j.error && (
            <>
              <dt>Error</dt>
              <dd className="field-error">{j.error}</dd>
            </>
          )}
          <dt>Details</dt>
          <dd>
            {/* Indented and wrapped: a transfer's details (file hash, errors) are longer than any screen. */}
            <pre className="mono details-json">{JSON.stringify(j.details, null, 2)}</pre>
          </dd>
        </dl>
      </section>
      <section className="card" aria-labelledby="job-logs">
        <h2 id="job-logs">Logs</h2>
        <pre className="log" role="log" aria-label="Job logs">
          {'logs' in j && j.logs ? j.logs : <span className="muted">no logs</span>}
        </pre>
      </section>
    </section>
  )
}
