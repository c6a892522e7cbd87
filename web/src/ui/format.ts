// How numbers and times read in the console.

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '—'
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

export function formatPercent(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—'
  return `${value >= 10 ? Math.round(value) : value.toFixed(1)} %`
}

export function formatTime(iso: string | null | undefined, never = 'Never'): string {
  if (!iso) return never
  return new Date(iso).toLocaleString()
}

/** "12 s ago", "3 min ago": for times a person compares with now. */
export function formatAgo(iso: string | null | undefined, never = 'Never'): string {
  if (!iso) return never
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000)
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`
  return new Date(iso).toLocaleDateString()
}
