// A time-series chart over uPlot (small, and fast with many points). Data is
// uPlot's aligned form: [times in seconds, ...one array per series]. The chart
// follows its container's width and is labelled for screen readers, which get
// the latest values as text beside it.

import { useEffect, useRef } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

export interface ChartSeries {
  label: string
  color: string
  /** Formats a value for the legend, e.g. v => `${v} %`. */
  format?: (value: number) => string
}

export function Chart({
  title,
  series,
  data,
  height = 180,
  yRange,
  windowSeconds,
}: {
  title: string
  series: ChartSeries[]
  data: uPlot.AlignedData
  height?: number
  /** Fixed y range, e.g. [0, 100] for percentages; default fits the data. */
  yRange?: [number, number]
  /** Show this many seconds up to the newest point (a live window), instead of fitting the data. */
  windowSeconds?: number
}) {
  const container = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)

  // Build once per series layout; data changes only call setData below.
  // biome-ignore lint/correctness/useExhaustiveDependencies: data is applied by the next effect
  useEffect(() => {
    const el = container.current
    if (!el) return
    const opts: uPlot.Options = {
      width: el.clientWidth || 400,
      height,
      scales: {
        x: windowSeconds
          ? {
              time: true,
              // From the newest point itself: with a single point uPlot widens min and max by days.
              range: (u) => {
                const times = u.data[0]
                const end = times.at(-1) ?? Date.now() / 1000
                return [end - windowSeconds, end]
              },
            }
          : { time: true },
        y: yRange ? { range: yRange } : {},
      },
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          value: s.format ? (_u: uPlot, v: number | null) => (v === null ? '—' : s.format!(v)) : undefined,
        })),
      ],
      axes: [{}, { size: 50 }],
    }
    const instance = new uPlot(opts, data, el)
    plot.current = instance
    const resize = new ResizeObserver(() => instance.setSize({ width: el.clientWidth, height }))
    resize.observe(el)
    return () => {
      resize.disconnect()
      instance.destroy()
      plot.current = null
    }
  }, [series.map((s) => s.label).join('|'), height, yRange?.[0], yRange?.[1], windowSeconds])

  useEffect(() => {
    plot.current?.setData(data)
  }, [data])

  return <figure className="chart" role="img" aria-label={title} ref={container} />
}
