// One agent: status and why, health with each of its parts, process facts,
// its configuration (editable by those who may), the actions, and the live log.

import { useState } from 'react'
import { Link, useParams } from 'react-router'
import { allows } from '../../api/session'
import type { Me } from '../../api/types'
import { formatAgo, formatBytes, formatPercent, formatTime } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { StatusDot } from '../../ui/StatusDot'
import { AgentActions } from './AgentActions'
import { AgentForm } from './AgentForm'
import { formFromAgent, joinCommand } from './config'
import { HealthBar, PART_NAMES } from './HealthBar'
import { useAgent, useUpdateAgent } from './hooks'
import { LogTail } from './LogTail'

export default function AgentPage({ me }: { me: Me }) {
  const { id = '' } = useParams()
  const agent = useAgent(id)
  const update = useUpdateAgent(id)
  const [editing, setEditing] = useState(false)
  const canOperate = allows(me.role, 'operator')

  if (!agent.data) {
    return (
      <section aria-labelledby="page-title">
        <h1 id="page-title">Agent</h1>
        <QueryState what="the agent" error={agent.error} />
        <p>
          <Link to="/agents">All agents</Link>
        </p>
      </section>
    )
  }
  const a = agent.data
  const config = a.configuration as Record<string, unknown>
  const container = containerOf(config)
  return (
    <section aria-labelledby="page-title">
      <p className="crumbs">
        <Link to="/agents">Agents</Link> /
      </p>
      <div className="page-head">
        <h1 id="page-title">{a.name}</h1>
        <StatusDot status={a.status} />
        {canOperate && <AgentActions agent={a} afterDelete="/agents" />}
      </div>
      {a.statusReason && <p className="muted">{a.statusReason}</p>}
      <div className="cards">
        <section className="card" aria-labelledby="facts-title">
          <h2 id="facts-title">{container ? 'Container' : 'Process'}</h2>
          <dl className="facts">
            <dt>Type</dt>
            <dd>{a.type}</dd>
            <dt>Runtime</dt>
            <dd>{container ? 'docker' : 'process'}</dd>
            {container && (
              <>
                <dt>Image</dt>
                <dd>
                  <code>{String(container.image)}</code>
                </dd>
                <dt>Container</dt>
                <dd>
                  {a.containerId ? <code title={a.containerId}>{a.containerId.slice(0, 12)}</code> : '—'}
                </dd>
              </>
            )}
            <dt>Wanted</dt>
            <dd>{a.desiredState}</dd>
            <dt>PID</dt>
            <dd>{a.pid ?? '—'}</dd>
            <dt>CPU</dt>
            <dd>{formatPercent(a.cpuPercent)}</dd>
            <dt>Memory</dt>
            <dd>{formatBytes(a.memoryBytes)}</dd>
            <dt>Restarts</dt>
            <dd>{a.restarts}</dd>
            <dt>Started</dt>
            <dd>{formatTime(a.startedAt, '—')}</dd>
            <dt>Last run</dt>
            <dd>{formatAgo(a.lastRun)}</dd>
            <dt>Last exit</dt>
            <dd>
              {a.lastExit
                ? `${a.lastExit.signal ?? `code ${a.lastExit.code}`}${
                    a.lastExit.oomKilled ? ' (out of memory: OOM kill)' : ''
                  }, ${formatAgo(a.lastExit.at)}`
                : '—'}
            </dd>
          </dl>
        </section>
        <section className="card" aria-labelledby="health-title">
          <h2 id="health-title">Health</h2>
          <HealthBar health={a.health} />
          {a.healthDetails ? (
            <table className="table compact">
              <caption className="sr-only">Health parts</caption>
              <thead>
                <tr>
                  <th scope="col">Part</th>
                  <th scope="col">Score</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(a.healthDetails).map(([part, p]) => (
                  <tr key={part}>
                    <th scope="row">{PART_NAMES[part as keyof typeof PART_NAMES] ?? part}</th>
                    <td>
                      {p.score} / {p.max}
                    </td>
                    <td>{p.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">No health details until the agent runs.</p>
          )}
        </section>
      </div>
      <section className="card" aria-labelledby="config-title">
        <div className="page-head">
          <h2 id="config-title">Configuration</h2>
          {canOperate && !editing && (
            <button type="button" onClick={() => setEditing(true)}>
              Edit
            </button>
          )}
        </div>
        {editing ? (
          <AgentForm
            isAdmin={me.role === 'admin'}
            initial={formFromAgent(a)}
            submitLabel="Save"
            busy={update.isPending}
            error={update.error}
            onCancel={() => {
              update.reset()
              setEditing(false)
            }}
            onSubmit={(body) => update.mutate(body, { onSuccess: () => setEditing(false) })}
          />
        ) : (
          <dl className="facts">
            <dt>Command</dt>
            <dd>
              <code>
                {container
                  ? joinCommand(container.command) || "the image's own"
                  : joinCommand(config.command) || '— (cannot start without one)'}
              </code>
            </dd>
            {container && (
              <>
                <dt>Limits</dt>
                <dd>
                  {[
                    container.cpus ? `${container.cpus} CPUs` : null,
                    container.memoryMb ? `${container.memoryMb} MB memory` : null,
                  ]
                    .filter(Boolean)
                    .join(', ') || 'none'}
                </dd>
                <dt>Network</dt>
                <dd>{container.network === 'host' ? "the host's" : 'none'}</dd>
              </>
            )}
            <dt>Restart policy</dt>
            <dd>{String(config.restartPolicy ?? 'on-failure')}</dd>
            <dt>Health check</dt>
            <dd>{config.healthCheck ? <code>{JSON.stringify(config.healthCheck)}</code> : 'none'}</dd>
            <dt>Memory limit</dt>
            <dd>{config.maxMemoryMb ? `${config.maxMemoryMb} MB` : 'none'}</dd>
            <dt>Environment</dt>
            <dd>{config.env ? <code>{Object.keys(config.env as object).join(', ')}</code> : 'none'}</dd>
          </dl>
        )}
        {editing && <p className="muted">A new configuration applies from the next start or restart.</p>}
      </section>
      <LogTail agentId={a.id} />
    </section>
  )
}

/** The container runtime of a configuration, or null for a local process. */
function containerOf(config: Record<string, unknown>): Record<string, unknown> | null {
  const r = config.runtime
  return typeof r === 'object' && r !== null ? (r as Record<string, unknown>) : null
}
