// Agents: every agent with status (colour and word), health, CPU, memory,
// restarts and last run, kept current by the scene feed; a form to create one
// with its command; start / stop / restart / delete for those who may.

import { useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { usePageOffset } from '../../api/paging'
import { useScene } from '../../api/scene-feed'
import { allows } from '../../api/session'
import type { Me } from '../../api/types'
import { formatAgo, formatBytes, formatPercent } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { Pager } from '../../ui/Pager'
import { StatusDot } from '../../ui/StatusDot'
import { AgentActions } from './AgentActions'
import { AgentForm } from './AgentForm'
import { EMPTY_FORM } from './config'
import { HealthBar } from './HealthBar'
import { useAgents, useCreateAgent } from './hooks'

export default function AgentsPage({ me }: { me: Me }) {
  const [offset, setOffset] = usePageOffset()
  const agents = useAgents(offset)
  const scene = useScene()
  const create = useCreateAgent()
  const navigate = useNavigate()
  const [creating, setCreating] = useState(false)
  const canOperate = allows(me.role, 'operator')
  const list = agents.data?.items ?? []
  // Counts over every agent, not just this page: the scene feed carries them all.
  const all = scene.data?.agents
  const running = all ? all.filter((a) => a.status === 'running').length : null
  const avgHealth = all?.length ? `${Math.round(all.reduce((s, a) => s + a.health, 0) / all.length)} %` : '—'

  return (
    <section aria-labelledby="page-title">
      <div className="page-head">
        <h1 id="page-title">Agents</h1>
        {canOperate && !creating && (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New agent
          </button>
        )}
      </div>
      {creating && (
        <section className="card" aria-labelledby="new-agent-title">
          <h2 id="new-agent-title">New agent</h2>
          <AgentForm
            isAdmin={me.role === 'admin'}
            initial={EMPTY_FORM}
            submitLabel="Create agent"
            busy={create.isPending}
            error={create.error}
            onCancel={() => {
              create.reset()
              setCreating(false)
            }}
            onSubmit={(body) =>
              create.mutate(body, {
                onSuccess: (agent) => {
                  setCreating(false)
                  navigate(`/agents/${agent.id}`)
                },
              })
            }
          />
        </section>
      )}
      {!agents.data ? (
        <QueryState what="agents" error={agents.error} />
      ) : (
        <>
          <dl className="stats">
            <div>
              <dt>Total agents</dt>
              <dd>{agents.data.total}</dd>
            </div>
            <div>
              <dt>Running</dt>
              <dd>{running ?? '—'}</dd>
            </div>
            <div>
              <dt>Average health</dt>
              <dd>{avgHealth}</dd>
            </div>
          </dl>
          {agents.data.total === 0 ? (
            <p className="muted">No agents yet.{canOperate && ' Create one with “New agent”.'}</p>
          ) : (
            <table className="table">
              <caption className="sr-only">Agents</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Status</th>
                  <th scope="col">Health</th>
                  <th scope="col">CPU</th>
                  <th scope="col">Memory</th>
                  <th scope="col">Restarts</th>
                  <th scope="col">Last run</th>
                  {canOperate && <th scope="col">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {list.map((a) => (
                  <tr key={a.id}>
                    <th scope="row">
                      <Link to={`/agents/${a.id}`}>{a.name}</Link>
                    </th>
                    <td>
                      <span className="badge">{a.type}</span>
                    </td>
                    <td title={a.statusReason ?? undefined}>
                      <StatusDot status={a.status} />
                    </td>
                    <td>
                      <HealthBar health={a.health} parts={a.status === 'stopped' ? null : a.healthDetails} />
                    </td>
                    <td>{formatPercent(a.cpuPercent)}</td>
                    <td>{formatBytes(a.memoryBytes)}</td>
                    <td>{a.restarts}</td>
                    <td>{formatAgo(a.lastRun)}</td>
                    {canOperate && (
                      <td>
                        <AgentActions agent={a} />
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <Pager what="agents" page={agents.data} onOffset={setOffset} />
        </>
      )}
    </section>
  )
}
