// Every live feed (telemetry, agent logs, jobs, visualization) sends the
// same envelope: {type, ts, payload} plus the subject's id field.

export interface Envelope {
  type: string
  ts: string
  payload: unknown
  [subject: string]: unknown
}

export function envelope(type: string, payload: unknown, subject: Record<string, string> = {}): Envelope {
  return { type, ...subject, ts: new Date().toISOString(), payload }
}
