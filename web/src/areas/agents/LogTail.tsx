// An agent's output as it happens (/ws/myntrix/agents/{id}/logs): the last
// lines first, then each new one. Follow keeps the newest line in view; Pause
// holds the view still while lines keep arriving (counted); Search shows only
// the lines that contain the text. The feed's status messages keep the
// agent's status current in the cache too.

import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useId, useRef, useState } from 'react'
import type { Envelope } from '../../api/live'
import { useLiveFeed } from '../../api/live'
import { agentsKey } from '../../api/scene-feed'
import type { Agent } from '../../api/types'
import { StatusDot } from '../../ui/StatusDot'

const KEEP_LINES = 2000

interface Line {
  n: number
  ts: string
  stream: string
  text: string
}

export function LogTail({ agentId }: { agentId: string }) {
  const client = useQueryClient()
  const [lines, setLines] = useState<Line[]>([])
  const [paused, setPaused] = useState<Line[] | null>(null)
  const [follow, setFollow] = useState(true)
  const [search, setSearch] = useState('')
  const counter = useRef(0)
  const box = useRef<HTMLPreElement>(null)
  const searchId = useId()

  const state = useLiveFeed(
    `/ws/myntrix/agents/${encodeURIComponent(agentId)}/logs?tail=200`,
    (m: Envelope) => {
      if (m.type === 'log') {
        const line = {
          n: counter.current++,
          ts: m.ts,
          stream: String(m.stream ?? 'stdout'),
          text: String(m.payload),
        }
        setLines((prev) => {
          const next = prev.length >= KEEP_LINES ? prev.slice(prev.length - KEEP_LINES + 1) : prev.slice()
          next.push(line)
          return next
        })
      } else if (m.type === 'status') {
        const s = m.payload as { status: Agent['status']; health: number; pid: number | null }
        client.setQueryData<Agent>([...agentsKey, 'one', agentId], (a) => a && { ...a, ...s })
      }
    },
    // A (re)connect sends the recent lines again: start the view over rather than repeat them.
    () => setLines([]),
  )

  const shown = paused ?? lines
  const needle = search.trim().toLowerCase()
  const visible = needle ? shown.filter((l) => l.text.toLowerCase().includes(needle)) : shown
  const held = paused ? lines.length - paused.length : 0

  useEffect(() => {
    if (follow && !paused && box.current) box.current.scrollTop = box.current.scrollHeight
  })

  return (
    <section className="card" aria-labelledby="logs-title">
      <div className="page-head">
        <h2 id="logs-title">Live log</h2>
        <StatusDot status={state} label={state === 'open' ? 'live' : state} />
      </div>
      <div className="toolbar">
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <button type="button" aria-pressed={paused !== null} onClick={() => setPaused(paused ? null : lines)}>
          {paused ? `Resume${held > 0 ? ` (${held} new)` : ''}` : 'Pause'}
        </button>
        <label htmlFor={searchId}>Search</label>
        <input id={searchId} type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        {needle && (
          <span className="muted" role="status">
            {visible.length} of {shown.length} lines
          </span>
        )}
      </div>
      <pre
        className="log"
        role="log"
        ref={box}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus to be scrolled from the keyboard
        tabIndex={0}
        aria-label="Agent output"
        aria-live={follow && !paused ? 'polite' : 'off'}
      >
        {visible.length === 0 ? (
          <span className="muted">{state === 'open' ? 'No output yet.' : 'Connecting…'}</span>
        ) : (
          visible.map((l) => (
            <span key={l.n} className={`log-line log-${l.stream}`}>
              <span className="log-time">[{new Date(l.ts).toLocaleTimeString()}]</span> {l.text}
              {'\n'}
            </span>
          ))
        )}
      </pre>
    </section>
  )
}
