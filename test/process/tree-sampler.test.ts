// The tree sampler against real process trees: a whole /proc pass only every
// fullScanEvery samples, the known members read in between, and a pass at once
// when a member is gone (so a sample never reports a dead process).
import { type ChildProcess, spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { groupMembers, readProcTable } from '../../src/process/proc.js'
import { ProcessTreeSampler } from '../../src/process/tree-sampler.js'
import { waitFor } from '../helpers/processes.js'

const started: ChildProcess[] = []

/** A process group of a shell and two sleeping children. */
function tree(): ChildProcess {
  const child = spawn('/bin/sh', ['-c', 'sleep 300 & sleep 300 & wait'], { detached: true, stdio: 'ignore' })
  started.push(child)
  return child
}

afterEach(() => {
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // already gone
    }
  }
})

describe('ProcessTreeSampler', () => {
  it('passes over /proc every fullScanEvery samples and reads only the members between', async () => {
    const root = tree()
    const pid = root.pid!
    const roots = [{ pid, pgid: pid }]
    let passes = 0
    const sampler = new ProcessTreeSampler({
      fullScanEvery: 3,
      readTable: () => {
        passes++
        return readProcTable()
      },
    })
    await waitFor(() => (sampler.sample(roots).get(pid) ?? []).length === 3, {
      what: 'the shell and two sleeps',
    })
    passes = 0
    const sizes: number[] = []
    for (let i = 0; i < 6; i++) sizes.push(sampler.sample(roots).get(pid)?.length ?? 0)
    expect(sizes).toEqual([3, 3, 3, 3, 3, 3])
    expect(passes).toBe(2)
  })

  it('sees a member gone at the next sample, not the next pass', async () => {
    const root = tree()
    const pid = root.pid!
    const roots = [{ pid, pgid: pid }]
    await waitFor(() => groupMembers(pid).length === 3, { what: 'the shell and two sleeps' })
    // A pass at the first sample only: from then on the members are read one by one.
    const sampler = new ProcessTreeSampler({ fullScanEvery: 1000 })
    const members = sampler.sample(roots).get(pid) ?? []
    expect(members).toHaveLength(3)
    const sleeper = members.find((st) => st.pid !== pid)
    expect(sleeper).toBeDefined()
    process.kill(sleeper!.pid, 'SIGKILL')
    // The shell reaps it (wait); the next sample must not count it.
    await waitFor(
      () => {
        const now = sampler.sample(roots).get(pid) ?? []
        return now.length === 2 && !now.some((st) => st.pid === sleeper!.pid)
      },
      { what: 'the killed sleep dropped from the tree' },
    )
  })

  it('measures a new tree at once, with a pass', () => {
    const sampler = new ProcessTreeSampler({ fullScanEvery: 1000 })
    const a = tree().pid!
    expect(sampler.sample([{ pid: a, pgid: a }]).get(a)?.length).toBeGreaterThan(0)
    const b = tree().pid!
    const both = sampler.sample([
      { pid: a, pgid: a },
      { pid: b, pgid: b },
    ])
    expect(both.get(b)?.length).toBeGreaterThan(0)
  })
})
