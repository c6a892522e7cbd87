// A device's live readings and its temperature and position charts, both fed
// by the telemetry samples in the cache (the recent ones read once, then the
// device's feed). Marlin reports temperature and target; GRBL position, feed
// and state; whatever the firmware does not report reads "—".

import { useMemo } from 'react'
import type uPlot from 'uplot'
import { Chart } from '../../ui/Chart'
import type { TelemetrySample } from './types'

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

function merged(samples: TelemetrySample[]): Record<string, unknown> {
  // A frame may carry only what changed (a position without the temperatures): the latest of each key.
  const out: Record<string, unknown> = {}
  for (const s of samples) Object.assign(out, s.readings)
  return out
}

const TEMP_SERIES = [
  { label: 'Temperature', color: '#e0531f', format: (v: number) => `${v.toFixed(1)} °C` },
  { label: 'Target', color: '#8a94a3', format: (v: number) => `${v.toFixed(0)} °C` },
]
const POSITION_SERIES = [
  { label: 'X', color: '#2f7de1', format: (v: number) => `${v} mm` },
  { label: 'Y', color: '#1a9c4a', format: (v: number) => `${v} mm` },
  { label: 'Z', color: '#a855f7', format: (v: number) => `${v} mm` },
]

function series(samples: TelemetrySample[], keys: string[]): uPlot.AlignedData {
  const t: number[] = []
  const cols: (number | null)[][] = keys.map(() => [])
  let lastT = -1
  for (const s of samples) {
    if (!keys.some((k) => num(s.readings[k]) !== null)) continue
    // uPlot needs increasing x; two frames in one millisecond keep the later.
    const x = new Date(s.ts).getTime() / 1000
    if (x <= lastT) continue
    lastT = x
    t.push(x)
    keys.forEach((k, i) => {
      // One column per key: cols was made from keys.
      cols[i]?.push(num(s.readings[k]))
    })
  }
  return [t, ...cols]
}

export function Readings({ samples, status }: { samples: TelemetrySample[]; status: string }) {
  const now = useMemo(() => merged(samples.slice(-50)), [samples])
  const temps = useMemo(() => series(samples, ['temperature', 'targetTemperature']), [samples])
  const positions = useMemo(() => series(samples, ['positionX', 'positionY', 'positionZ']), [samples])
  const fmt = (v: unknown, unit = '') => (num(v) === null ? '—' : `${num(v)}${unit}`)
  const speed = now.speed ?? now.feed
  return (
    <section className="card" aria-labelledby="readings-title">
      <h2 id="readings-title">Live readings</h2>
      <dl className="readings">
        <div>
          <dt>Temperature</dt>
          <dd>{fmt(now.temperature, ' °C')}</dd>
        </div>
        <div>
          <dt>Target</dt>
          <dd>{fmt(now.targetTemperature, ' °C')}</dd>
        </div>
        <div>
          <dt>Position X</dt>
          <dd>{fmt(now.positionX)}</dd>
        </div>
        <div>
          <dt>Position Y</dt>
          <dd>{fmt(now.positionY)}</dd>
        </div>
        <div>
          <dt>Position Z</dt>
          <dd>{fmt(now.positionZ)}</dd>
        </div>
        <div>
          <dt>Speed</dt>
          <dd>{fmt(speed, ' mm/min')}</dd>
        </div>
        <div>
          <dt>State</dt>
          <dd>{typeof now.state === 'string' ? now.state : status}</dd>
        </div>
      </dl>
      <div className="chart-grid">
        <div>
          <h3>Temperature</h3>
          <Chart title="Temperature and target, °C" series={TEMP_SERIES} data={temps} height={170} />
          <p className="muted">{temps[0].length} points</p>
        </div>
        <div>
          <h3>Position</h3>
          {positions[0].length === 0 ? (
            <p className="muted">No position reported yet (Marlin reports it after M114).</p>
          ) : (
            <Chart title="Position X, Y and Z, mm" series={POSITION_SERIES} data={positions} height={170} />
          )}
          <p className="muted">{positions[0].length} points</p>
        </div>
      </div>
    </section>
  )
}
