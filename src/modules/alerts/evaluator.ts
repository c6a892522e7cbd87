// The alert rules' state machines, in memory, fed one reading at a time.
// Rules are indexed by device and reading name, so a telemetry sample costs a
// map lookup and one comparison per rule on that reading, and nothing is
// written unless a rule's state changes (ok -> pending -> firing -> resolved,
// or pending -> ok). Each change is handed to `changed`, which records it
// (recorder.ts); the evaluator itself never waits on anything.
//
// Every rule watches exactly one value (one device's reading, or one host
// metric), so a rule has one state. A pending rule whose value stops arriving
// (a device gone quiet) still fires after forSeconds: its timer checks the
// last value heard, which is what the condition is known to be.

import { newId } from '../../db/ids.js'
import { judge, newTargetTrack, type TargetTrack } from './condition.js'
import { type AlertRule, type AlertState, hostKey } from './records.js'

export interface StateChange {
  rule: AlertRule
  alertId: string
  from: AlertState | 'ok'
  to: AlertState
  value: number | null
  at: Date
}

/** What an active alert restored from the database resumes as. */
export interface ActiveAlert {
  alertId: string
  state: 'pending' | 'firing'
  since: Date
  value: number | null
}

interface RuleState {
  rule: AlertRule
  state: 'ok' | 'pending' | 'firing'
  alertId: string | null
  /** When the current pending started (epoch ms). */
  since: number
  lastValue: number | null
  /** Whether the condition held at the last reading (what a pending timer goes by). */
  lastHeld: boolean
  /** Relative rules: the device's target as last seen. */
  track: TargetTrack
  timer: NodeJS.Timeout | null
}

export class Evaluator {
  private readonly rules = new Map<string, RuleState>()
  /** deviceId -> reading -> the rules watching it. */
  private readonly byDevice = new Map<string, Map<string, RuleState[]>>()
  /** metric (disk.percent@<mount> for a named mount) -> the host rules watching it. */
  private readonly byMetric = new Map<string, RuleState[]>()

  constructor(
    private readonly changed: (change: StateChange) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Watches a rule (replacing an earlier version of it), resuming its active alert if given. */
  watch(rule: AlertRule, active?: ActiveAlert): void {
    this.unwatch(rule.id)
    const state: RuleState = {
      rule,
      state: active?.state ?? 'ok',
      alertId: active?.alertId ?? null,
      since: active?.since.getTime() ?? 0,
      lastValue: active?.value ?? null,
      lastHeld: active !== undefined,
      track: newTargetTrack(),
      timer: null,
    }
    this.rules.set(rule.id, state)
    this.index(state).push(state)
    if (state.state === 'pending') this.armPending(state)
  }

  /** A new version of a watched rule whose condition is the same (a new name, cooldown): its state stays. */
  refresh(rule: AlertRule): void {
    const state = this.rules.get(rule.id)
    if (state) state.rule = rule
  }

  /** Stops watching; answers the rule's active alert (if any), which the caller closes. */
  unwatch(ruleId: string): ActiveAlert | null {
    const state = this.rules.get(ruleId)
    if (!state) return null
    this.disarm(state)
    this.rules.delete(ruleId)
    const list = this.index(state)
    list.splice(list.indexOf(state), 1)
    this.pruneIndex(state.rule)
    if (state.state === 'ok' || !state.alertId) return null
    return {
      alertId: state.alertId,
      state: state.state,
      since: new Date(state.since),
      value: state.lastValue,
    }
  }

  /** The version of a rule being watched, if it is. */
  watched(ruleId: string): AlertRule | undefined {
    return this.rules.get(ruleId)?.rule
  }

  /** The mount points host rules name: what the sampler must measure besides the data directory. */
  hostMounts(): string[] {
    const mounts = new Set<string>()
    for (const states of this.byMetric.values())
      for (const s of states) if (s.rule.mount) mounts.add(s.rule.mount)
    return [...mounts]
  }

  /** The ids of the rules watching a device (its deletion took them). */
  rulesOfDevice(deviceId: string): string[] {
    const byReading = this.byDevice.get(deviceId)
    return byReading ? [...byReading.values()].flat().map((s) => s.rule.id) : []
  }

  /** A device's telemetry: its full current set of readings. */
  deviceReadings(deviceId: string, readings: Record<string, unknown>): void {
    const byReading = this.byDevice.get(deviceId)
    if (!byReading) return
    for (const [reading, states] of byReading) {
      const value = readings[reading]
      if (!isNumber(value)) continue
      for (const state of states) {
        const targetName = state.rule.targetMetric
        const target = targetName === null ? undefined : readings[targetName]
        this.evaluate(state, value, isNumber(target) ? target : undefined)
      }
    }
  }

  /** Host metrics of one sample, by metric name (disk.percent@<mount> for each measured mount). */
  hostValues(values: ReadonlyMap<string, number>): void {
    for (const [metric, states] of this.byMetric) {
      const value = values.get(metric)
      if (value === undefined) continue
      for (const state of states) this.evaluate(state, value, undefined)
    }
  }

  stop(): void {
    for (const state of this.rules.values()) this.disarm(state)
  }

  private evaluate(s: RuleState, value: number, target: number | undefined): void {
    const { holds, clears } = judge(s.rule, value, target, s.track)
    s.lastValue = value
    s.lastHeld = holds
    const now = this.now()
    if (s.state === 'firing') {
      if (clears) this.move(s, 'resolved', value, now)
      return
    }
    if (!holds) {
      if (s.state === 'pending') this.move(s, 'ok', value, now)
      return
    }
    if (s.state === 'ok') {
      s.alertId = newId()
      s.since = now
      this.move(s, 'pending', value, now)
    }
    if (now - s.since >= s.rule.forSeconds * 1000) this.move(s, 'firing', value, now)
    else if (!s.timer) this.armPending(s)
  }

  private move(s: RuleState, to: AlertState, value: number | null, nowMs: number): void {
    const from = s.state
    const alertId = s.alertId as string
    this.disarm(s)
    if (to === 'pending' || to === 'firing') s.state = to
    else {
      s.state = 'ok'
      s.alertId = null
    }
    this.changed({ rule: s.rule, alertId, from, to, value, at: new Date(nowMs) })
  }

  /**
   * A pending alert fires when forSeconds pass, whether or not another reading comes by then.
   * Node's timers run on a monotonic clock and may fire a millisecond before the wall clock the
   * alert's times are kept in says the time is up; such an early wake re-arms for the rest, so
   * firedAt - startedAt is never under forSeconds.
   */
  private armPending(s: RuleState): void {
    const left = Math.max(0, s.since + s.rule.forSeconds * 1000 - this.now())
    s.timer = setTimeout(() => {
      s.timer = null
      if (s.state !== 'pending' || this.rules.get(s.rule.id) !== s || !s.lastHeld) return
      const now = this.now()
      if (now - s.since >= s.rule.forSeconds * 1000) this.move(s, 'firing', s.lastValue, now)
      else this.armPending(s)
    }, left)
    s.timer.unref()
  }

  private disarm(s: RuleState): void {
    if (s.timer) clearTimeout(s.timer)
    s.timer = null
  }

  private index(state: RuleState): RuleState[] {
    const { rule } = state
    if (rule.source === 'host') return entry(this.byMetric, hostKey(rule), () => [])
    const byReading = entry(this.byDevice, rule.deviceId as string, () => new Map<string, RuleState[]>())
    return entry(byReading, rule.metric, () => [])
  }

  private pruneIndex(rule: AlertRule): void {
    if (rule.source === 'host') {
      const key = hostKey(rule)
      if (this.byMetric.get(key)?.length === 0) this.byMetric.delete(key)
      return
    }
    const byReading = this.byDevice.get(rule.deviceId as string)
    if (!byReading) return
    if (byReading.get(rule.metric)?.length === 0) byReading.delete(rule.metric)
    if (byReading.size === 0) this.byDevice.delete(rule.deviceId as string)
  }
}

/** The map's value for `key`, made and stored first when there is none. */
function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key)
  if (value === undefined) {
    value = make()
    map.set(key, value)
  }
  return value
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}
