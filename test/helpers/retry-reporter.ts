// A vitest reporter for CI: CI retries a failed test once (real time and real
// processes on a small machine), and a test that passed only on its retry is
// flaky. This prints the name of every such test at the end of the run, with
// what its failed try(s) threw, so a flaky test is seen (and can be mended from
// the log alone) rather than hidden by the retry.

import type { Reporter, TestCase } from 'vitest/node'

export default class RetryReporter implements Reporter {
  private readonly retried: string[] = []
  private count = 0

  onTestCaseResult(testCase: TestCase): void {
    const retries = testCase.diagnostic()?.retryCount ?? 0
    if (retries > 0) {
      const result = testCase.result()
      this.count++
      this.retried.push(
        `${testCase.module.moduleId} > ${testCase.fullName} (${result.state} after ${retries} retr${retries === 1 ? 'y' : 'ies'})`,
      )
      // A retried test that passed keeps its failed tries' errors: the first lines of each, and where.
      for (const error of result.errors ?? []) {
        const message = (error.message ?? String(error)).split('\n').slice(0, 6).join('\n      ')
        const at = error.stacks?.[0]
        this.retried.push(`    threw: ${message}${at ? `\n      at ${at.file}:${at.line}:${at.column}` : ''}`)
      }
    }
  }

  onTestRunEnd(): void {
    if (this.count === 0) {
      console.log('retried tests: none')
      return
    }
    console.log(`retried tests: ${this.count}`)
    for (const name of this.retried) console.log(`  ${name}`)
  }
}
