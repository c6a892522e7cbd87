// Types of myntrix-server.mjs for the TypeScript benchmarks.
export interface BenchServer {
  pid: number
  api(method: string, url: string, body?: unknown): Promise<unknown>
  stop(): Promise<void>
}
export function startMyntrix(main: string, options: { cwd: string; env?: Record<string, string> }): Promise<BenchServer>
