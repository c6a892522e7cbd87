// A vitest reporter for CI: CI retries a failed test once (real time and real
// processes on a small machine), and a test that passed only on its retry is
// flaky. This prints the name of every such test at the end of the run, so a
// flaky test is seen rather than hidden by the retry.

import type { Reporter, TestCase } from 'vitest/node'

export default class RetryReporter implements Reporter {
  private readonly retried: string[] = []

  onTestCaseResult(testCase: TestCase): void {
    const retries = testCase.diagnostic()?.retryCount ?? 0
    if (retries > 0) {
      this.retried.push(
        `${testCase.module.moduleId} > ${testCase.fullName} (${testCase.result().state} after ${retries} retr${retries === 1 ? 'y' : 'ies'})`,
      )
    }
  }

  onTestRunEnd(): void {
    if (this.retried.length === 0) {
      console.log('retried tests: none')
      return
    }
    console.log(`retried tests: ${this.retried.length}`)
    for (const name of this.retried) console.log(`  ${name}`)
  }
}
