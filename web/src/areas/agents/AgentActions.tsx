// Start or stop, restart, delete: each asks first, in a real dialog, and shows
// the server's refusal (an agent without a command cannot start) in it.

import { useState } from 'react'
import { useNavigate } from 'react-router'
import { toProblem } from '../../api/problem'
import type { Agent } from '../../api/types'
import { ConfirmDialog } from '../../ui/ConfirmDialog'
import { type AgentAction, useAgentAction, useDeleteAgent } from './hooks'

type Pending = AgentAction | 'delete' | null

const RUNNING = new Set(['running', 'starting', 'restarting'])

const WORDS: Record<Exclude<Pending, null>, { verb: string; text: (name: string) => string }> = {
  start: { verb: 'Start', text: (n) => `Start ${n}? Its command runs as a new process.` },
  stop: {
    verb: 'Stop',
    text: (n) => `Stop ${n}? Its process group gets SIGTERM, then SIGKILL after the stop timeout.`,
  },
  restart: {
    verb: 'Restart',
    text: (n) => `Restart ${n}? The running process is stopped and a new one started.`,
  },
  delete: {
    verb: 'Delete',
    text: (n) => `Delete ${n}? It is stopped first; its configuration and logs are removed.`,
  },
}

export function AgentActions({ agent, afterDelete }: { agent: Agent; afterDelete?: string }) {
  const [pending, setPending] = useState<Pending>(null)
  const action = useAgentAction()
  const remove = useDeleteAgent()
  const navigate = useNavigate()
  const running = RUNNING.has(agent.status) || agent.desiredState === 'running'
  const busy = action.isPending || remove.isPending
  const error = pending === 'delete' ? remove.error : action.error

  const open = (p: Exclude<Pending, null>) => {
    action.reset()
    remove.reset()
    setPending(p)
  }
  const confirm = () => {
    if (!pending) return
    if (pending === 'delete') {
      remove.mutate(agent.id, {
        onSuccess: () => {
          setPending(null)
          if (afterDelete) navigate(afterDelete)
        },
      })
    } else {
      action.mutate({ id: agent.id, action: pending }, { onSuccess: () => setPending(null) })
    }
  }

  return (
    <span className="actions">
      {running ? (
        <button type="button" aria-label={`Stop ${agent.name}`} onClick={() => open('stop')}>
          Stop
        </button>
      ) : (
        <button type="button" aria-label={`Start ${agent.name}`} onClick={() => open('start')}>
          Start
        </button>
      )}
      <button type="button" aria-label={`Restart ${agent.name}`} onClick={() => open('restart')}>
        Restart
      </button>
      <button
        type="button"
        className="danger"
        aria-label={`Delete ${agent.name}`}
        onClick={() => open('delete')}
      >
        Delete
      </button>
      <ConfirmDialog
        open={pending !== null}
        title={pending ? `${WORDS[pending].verb} agent` : ''}
        confirmLabel={pending ? WORDS[pending].verb : 'OK'}
        danger={pending === 'delete' || pending === 'stop'}
        busy={busy}
        problem={error ? toProblem(error) : null}
        onConfirm={confirm}
        onCancel={() => setPending(null)}
      >
        <p>{pending ? WORDS[pending].text(agent.name) : ''}</p>
      </ConfirmDialog>
    </span>
  )
}
