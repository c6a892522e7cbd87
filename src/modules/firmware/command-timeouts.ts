// How long one streamed G-code line may wait for its acknowledgement. Most
// lines are answered within milliseconds; heating, homing, probing, dwell and
// waiting for moves or a filament change hold their `ok` for minutes, silently
// or with only `busy:` keepalives. A device's `configuration.commandTimeouts`
// overrides this table word by word (`{"M109": 3600000}`), and its `default`
// entry replaces the line timeout for every other line. A command named in the
// table is also never taken for a stall: its own timeout governs its wait.

/** Today's long-running commands, each 30 min (Marlin printers and GRBL alike). */
export const LONG_COMMAND_TIMEOUT_MS = 30 * 60_000
export const DEFAULT_COMMAND_TIMEOUTS: Readonly<Record<string, number>> = Object.fromEntries(
  [
    'G4',
    'G28',
    'G29',
    'G34',
    'G35',
    'G76',
    'M0',
    'M1',
    'M109',
    'M116',
    'M190',
    'M191',
    'M303',
    'M400',
    'M600',
  ].map((word) => [word, LONG_COMMAND_TIMEOUT_MS]),
)

/** A key of `commandTimeouts`: a G or M word (G28, M109, G38.2), or `default`. */
export const COMMAND_TIMEOUT_KEY_PATTERN = '^(?:[GM](?:0|[1-9]\\d{0,3})(?:\\.\\d)?|default)$'
export const MIN_COMMAND_TIMEOUT_MS = 100
export const MAX_COMMAND_TIMEOUT_MS = 24 * 3_600_000

/** The command word of a prepared line (`G1 X2` → `G1`, `g28` → `G28`, `M109S200` → `M109`). */
export function commandWord(text: string): string | null {
  const m = /^\s*(?:N\d+\s*)?([GM])0*(\d+(?:\.\d)?)/i.exec(text)
  return m ? `${(m[1] ?? '').toUpperCase()}${m[2] ?? ''}` : null
}

export class CommandTimeouts {
  private readonly byWord: Record<string, number>
  readonly defaultMs: number

  /** `configured`: a device's validated `commandTimeouts`; `lineTimeoutMs`: the default unless it names one. */
  constructor(configured: Readonly<Record<string, number>> | undefined, lineTimeoutMs: number) {
    const { default: defaultMs, ...words } = configured ?? {}
    this.byWord = { ...DEFAULT_COMMAND_TIMEOUTS, ...words }
    this.defaultMs = defaultMs ?? lineTimeoutMs
  }

  /** The table's own entry for this line's command; null when the line timeout applies. */
  entryFor(text: string): number | null {
    const word = commandWord(text)
    return word === null ? null : (this.byWord[word] ?? null)
  }

  /** How long this line may wait for its acknowledgement. */
  timeoutFor(text: string): number {
    return this.entryFor(text) ?? this.defaultMs
  }

  /** Named in the table: a long wait is this command's nature, not a stall. */
  isLong(text: string): boolean {
    return this.entryFor(text) !== null
  }
}
