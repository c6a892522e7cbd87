// The device terminal: a command box, the firmware's answer to the last
// command, and the wire log live from the telemetry feed (what went out and
// what came in, as the device connection logged it).

import { type FormEvent, useEffect, useId, useRef, useState } from 'react'
import type { FeedState } from '../../api/live'
import { toProblem } from '../../api/problem'
import { ProblemView } from '../../ui/ProblemView'
import { StatusDot } from '../../ui/StatusDot'
import { useCommand, type WireLine } from './hooks'

export function Terminal({
  deviceId,
  log,
  feed,
  canCommand,
  connected,
  onClear,
}: {
  deviceId: string
  log: WireLine[]
  feed: FeedState
  canCommand: boolean
  connected: boolean
  onClear(): void
}) {
  const command = useCommand(deviceId)
  const [text, setText] = useState('')
  const [history, setHistory] = useState<string[]>([])
  const [back, setBack] = useState(-1)
  const box = useRef<HTMLPreElement>(null)
  const inputId = useId()

  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight
  })

  const send = (e: FormEvent) => {
    e.preventDefault()
    const line = text.trim()
    if (!line) return
    command.mutate(line)
    setHistory((h) => [line, ...h.filter((x) => x !== line)].slice(0, 50))
    setBack(-1)
    setText('')
  }

  const result = command.data
  return (
    <section className="card" aria-labelledby="terminal-title">
      <div className="page-head">
        <h2 id="terminal-title">Terminal</h2>
        <StatusDot status={feed} label={feed === 'open' ? 'live' : feed} />
      </div>
      {canCommand && (
        <form className="terminal-form" onSubmit={send}>
          <label htmlFor={inputId} className="sr-only">
            Command
          </label>
          <input
            id={inputId}
            className="mono"
            value={text}
            placeholder={connected ? 'M105' : 'connect the device first'}
            autoComplete="off"
            onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => {
              // Up and down walk the commands sent before, as in a shell.
              if (e.key === 'ArrowUp' && history.length) {
                e.preventDefault()
                const i = Math.min(back + 1, history.length - 1)
                setBack(i)
                setText(history[i] ?? '')
              } else if (e.key === 'ArrowDown' && back >= 0) {
                e.preventDefault()
                const i = back - 1
                setBack(i)
                setText(history[i] ?? '')
              }
            }}
          />
          <button type="submit" className="primary" disabled={command.isPending}>
            Send
          </button>
          <button type="button" onClick={onClear}>
            Clear log
          </button>
        </form>
      )}
      {command.error && <ProblemView problem={toProblem(command.error)} />}
      {result && (
        <output className="response mono" aria-label="Response">
          {`${command.variables} → ${result.ok ? 'ok' : 'refused'} in ${result.durationMs} ms`}
          {result.response.length > 0 && `\n${result.response.join('\n')}`}
          {result.message && result.message !== 'ok' && `\n${result.message}`}
        </output>
      )}
      <pre
        className="log"
        role="log"
        ref={box}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus to be scrolled from the keyboard
        tabIndex={0}
        aria-label="Wire log"
      >
        {log.length === 0 ? (
          <span className="muted">{feed === 'open' ? 'Nothing on the wire yet.' : 'Connecting…'}</span>
        ) : (
          log.map((l) => (
            <span key={l.n} className={`log-line log-${l.direction}`}>
              <span className="log-time">[{new Date(l.ts).toLocaleTimeString()}]</span>{' '}
              {l.direction === 'out' ? '→' : '←'} {l.text}
              {'\n'}
            </span>
          ))
        )}
      </pre>
    </section>
  )
}
