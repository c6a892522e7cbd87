// Restart an interrupted transfer from a line. The plan (the preamble rebuilt
// from the file's modal state, its warnings, where it resumes) is read from
// the server's restart preview and shown before anything moves; the line is
// editable and the preview follows it. Nothing is sent until the operator
// confirms in the dialog, and the confirmation sends exactly the line shown.
// Only operators see it (the server refuses viewers anyway).

import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useNavigate } from 'react-router'
import { api, unwrap } from '../../api/client'
import { toProblem } from '../../api/problem'
import type { Job } from '../../api/types'
import { ConfirmDialog } from '../../ui/ConfirmDialog'
import { Field } from '../../ui/Field'
import { ProblemView } from '../../ui/ProblemView'
import { jobsKey, storeJob } from './jobs'

/** Which jobs offer a restart: interrupted device transfers. */
export function canRestart(job: Pick<Job, 'status' | 'type'>): boolean {
  return job.status === 'interrupted' && job.type === 'device-transfer'
}

function useRestartPreview(jobId: string, fromLine: number | undefined, enabled: boolean) {
  return useQuery({
    queryKey: [...jobsKey, 'restart-preview', jobId, fromLine ?? null],
    enabled,
    placeholderData: keepPreviousData,
    retry: false,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/myntrix/jobs/{id}/restart-preview', {
          params: { path: { id: jobId }, query: fromLine === undefined ? {} : { fromLine } },
        }),
      ),
  })
}

export function RestartJob({ job }: { job: Job }) {
  const [isOpen, setOpen] = useState(false)
  const [lineText, setLineText] = useState('')
  const typed = /^\d+$/.test(lineText.trim()) ? Number(lineText.trim()) : undefined
  const preview = useRestartPreview(job.id, typed, isOpen)
  const client = useQueryClient()
  const navigate = useNavigate()
  const plan = preview.data
  // The line the dialog shows is the line the restart sends: the preview's (a comment or blank
  // line moves to the next G-code line), and only once the preview of what was typed is in.
  const fromLine = plan?.fromLine
  const isPlanCurrent =
    !preview.isFetching && !preview.isError && (lineText.trim() === '' || typed !== undefined)
  const restart = useMutation({
    mutationFn: async (line: number) =>
      unwrap(
        await api.POST('/api/myntrix/jobs/{id}/restart', {
          params: { path: { id: job.id } },
          body: { fromLine: line, confirm: true },
        }),
      ),
    onSuccess: (answer) => {
      storeJob(client, answer.job as Job)
      setOpen(false)
      void navigate(`/resources/jobs/${answer.job.id}`)
    },
  })
  const close = () => {
    setOpen(false)
    restart.reset()
  }
  return (
    <>
      <button
        type="button"
        className="primary"
        onClick={() => {
          setLineText('')
          setOpen(true)
        }}
      >
        Restart…
      </button>
      <ConfirmDialog
        open={isOpen}
        title="Restart from a line"
        confirmLabel={fromLine === undefined ? 'Restart' : `Restart from line ${fromLine}`}
        busy={restart.isPending || !isPlanCurrent || fromLine === undefined}
        problem={restart.error ? toProblem(restart.error) : null}
        onConfirm={() => {
          if (fromLine !== undefined) restart.mutate(fromLine)
        }}
        onCancel={close}
      >
        <p>
          {plan?.checkpoint
            ? `The last line the firmware acknowledged is ${String(plan.checkpoint.lastAckedLine)}.`
            : 'This job kept no checkpoint.'}{' '}
          Nothing is sent until you confirm.
        </p>
        <Field
          label="From line"
          hint="empty: the line after the checkpoint"
          problem={preview.error ? toProblem(preview.error) : null}
          path="query.fromLine"
        >
          <input
            type="text"
            inputMode="numeric"
            name="fromLine"
            value={lineText}
            placeholder={plan ? String(plan.fromLine) : ''}
            onChange={(e) => setLineText(e.target.value)}
          />
        </Field>
        <ProblemView problem={preview.error ? toProblem(preview.error) : null} claimed={['query.fromLine']} />
        {plan && (
          <section aria-label="Restart plan">
            <p>
              Resumes at line {plan.fromLine} ({plan.remainingLines} lines to send) after a{' '}
              {plan.preamble.lines.length}-line preamble ({plan.machine}):
            </p>
            <figure aria-label="Preamble">
              <pre className="log">{plan.preamble.lines.join('\n')}</pre>
            </figure>
            {plan.preamble.warnings.length > 0 && (
              <ul className="problem-errors" aria-label="Warnings">
                {plan.preamble.warnings.map((w) => (
                  <li key={w}>{w}</li>
                ))}
              </ul>
            )}
            <figure aria-label="First lines">
              <pre className="log">{plan.firstLines.map((l) => `${l.line}: ${l.text}`).join('\n')}</pre>
            </figure>
          </section>
        )}
      </ConfirmDialog>
    </>
  )
}
