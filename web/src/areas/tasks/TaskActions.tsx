// Enable / disable, run now and delete. Delete asks first in a real dialog;
// each action's refusal (a script task run by a non-admin) is shown beside it.

import { useState } from 'react'
import { useNavigate } from 'react-router'
import { toProblem } from '../../api/problem'
import type { Task } from '../../api/types'
import { ConfirmDialog } from '../../ui/ConfirmDialog'
import { ProblemView } from '../../ui/ProblemView'
import { useDeleteTask, useRunNow, useUpdateTask } from './hooks'

export function TaskActions({ task, afterDelete }: { task: Task; afterDelete?: string }) {
  const update = useUpdateTask()
  const run = useRunNow()
  const remove = useDeleteTask()
  const navigate = useNavigate()
  const [deleting, setDeleting] = useState(false)
  const error = update.error ?? run.error
  return (
    <span className="actions">
      <button
        type="button"
        aria-label={`${task.enabled ? 'Disable' : 'Enable'} ${task.name}`}
        disabled={update.isPending}
        onClick={() => update.mutate({ id: task.id, body: { enabled: !task.enabled } })}
      >
        {task.enabled ? 'Disable' : 'Enable'}
      </button>
      <button
        type="button"
        aria-label={`Run ${task.name} now`}
        disabled={run.isPending}
        onClick={() => run.mutate(task.id)}
      >
        Run now
      </button>
      <button
        type="button"
        className="danger"
        aria-label={`Delete ${task.name}`}
        onClick={() => {
          remove.reset()
          setDeleting(true)
        }}
      >
        Delete
      </button>
      {error && <ProblemView problem={toProblem(error)} />}
      <ConfirmDialog
        open={deleting}
        title="Delete task"
        confirmLabel="Delete"
        danger
        busy={remove.isPending}
        problem={remove.error ? toProblem(remove.error) : null}
        onCancel={() => setDeleting(false)}
        onConfirm={() =>
          remove.mutate(task.id, {
            onSuccess: () => {
              setDeleting(false)
              if (afterDelete) navigate(afterDelete)
            },
          })
        }
      >
        <p>Delete {task.name}? Its run history goes with it.</p>
      </ConfirmDialog>
    </span>
  )
}
