// Measures many process trees every few seconds without reading every process on
// the host each time. Finding a tree's members needs the whole of /proc (this
// kernel has no CONFIG_PROC_CHILDREN); measuring known members needs only their
// own stat files. An idle supervisor of 50 agents spent most of its waking time
// reading the ~150 stat files of a whole pass every 2 s, more than PM2's daemon
// spends idle, so the whole pass now runs every `fullScanEvery` samples, when a
// new tree appears, or when a known member is gone or replaced, and the samples
// between read only the members found last time.
//
// The price: a child forked between two passes is counted from the next pass,
// at most fullScanEvery - 1 samples later (8 s at the default 2 s interval); the
// tree's root and known members are always current.

import { type ProcStat, processTree, readProcStat, readProcTable } from './proc.js'

export interface TreeRoot {
  pid: number
  /** The tree's process group (the agent's group leader is its root). */
  pgid: number
}

interface Member {
  pid: number
  startTicks: number
}

export interface TreeSamplerOptions {
  fullScanEvery?: number
  readStat?: (pid: number) => ProcStat | null
  readTable?: () => Map<number, ProcStat>
}

export class ProcessTreeSampler {
  private readonly fullScanEvery: number
  private readonly readStat: (pid: number) => ProcStat | null
  private readonly readTable: () => Map<number, ProcStat>
  private members = new Map<number, Member[]>()
  private samplesSinceScan = Number.POSITIVE_INFINITY

  constructor(options: TreeSamplerOptions = {}) {
    this.fullScanEvery = Math.max(1, options.fullScanEvery ?? 5)
    this.readStat = options.readStat ?? readProcStat
    this.readTable = options.readTable ?? readProcTable
  }

  /** The live (non-zombie) members of each root's tree, by root pid. */
  sample(roots: readonly TreeRoot[]): Map<number, ProcStat[]> {
    const quick = this.samplesSinceScan + 1 < this.fullScanEvery ? this.readKnown(roots) : null
    if (quick) {
      this.samplesSinceScan++
      return quick
    }
    const table = this.readTable()
    const out = new Map<number, ProcStat[]>()
    this.members = new Map()
    for (const root of roots) {
      const tree = processTree(table, root.pid, root.pgid)
      out.set(root.pid, tree)
      this.members.set(
        root.pid,
        tree.map((st) => ({ pid: st.pid, startTicks: st.startTicks })),
      )
    }
    this.samplesSinceScan = 0
    return out
  }

  /** Reads only the members found by the last pass; null when a pass is needed. */
  private readKnown(roots: readonly TreeRoot[]): Map<number, ProcStat[]> | null {
    const out = new Map<number, ProcStat[]>()
    for (const root of roots) {
      const known = this.members.get(root.pid)
      if (!known || known.length === 0) return null
      const tree: ProcStat[] = []
      for (const member of known) {
        const st = this.readStat(member.pid)
        // Gone, or the pid now names another process: the tree changed shape.
        if (!st || st.startTicks !== member.startTicks || st.state === 'Z') return null
        tree.push(st)
      }
      out.set(root.pid, tree)
    }
    return out
  }
}
