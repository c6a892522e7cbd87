// Ambient capabilities: a server started with some (systemd AmbientCapabilities=)
// passes them to every child, even one switched to another user. The check
// reads /proc/<pid>/status of real processes, one started with CAP_SETUID and
// CAP_SETGID ambient by setpriv (root only), one without.

import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { ambientCapabilities } from '../../src/process/child-user.js'

const isRoot = process.getuid?.() === 0
let hasSetpriv = false
try {
  execFileSync('setpriv', ['--version'], { stdio: 'ignore' })
  hasSetpriv = true
} catch {}

describe('ambientCapabilities', () => {
  it('reads none from a process started without any', () => {
    const status = execFileSync('cat', ['/proc/self/status'], { encoding: 'utf8' })
    expect(ambientCapabilities(status)).toBe(0n)
    expect(ambientCapabilities('no such line')).toBe(0n)
  })

  it.runIf(isRoot && hasSetpriv)(
    'reads CAP_SETUID and CAP_SETGID from a process given them as ambient',
    () => {
      const status = execFileSync(
        'setpriv',
        [
          '--reuid=1',
          '--regid=1',
          '--clear-groups',
          '--inh-caps=+setuid,+setgid',
          '--ambient-caps=+setuid,+setgid',
          'cat',
          '/proc/self/status',
        ],
        { encoding: 'utf8' },
      )
      // CAP_SETGID is bit 6, CAP_SETUID bit 7.
      expect(ambientCapabilities(status)).toBe(0xc0n)
    },
  )
})
