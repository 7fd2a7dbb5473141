// Prints one closing line CI can read: "e2e: N passed, N failed, N skipped".
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

export default class SummaryReporter implements Reporter {
  private passed = 0;
  private failed = 0;
  private skipped = 0;

  onTestEnd(test: TestCase, result: TestResult): void {
    // Count each test once, by its final outcome (retries are off, but be exact anyway).
    if (result.retry < test.retries && result.status !== 'passed' && result.status !== 'skipped') return;
    if (result.status === 'passed') this.passed++;
    else if (result.status === 'skipped') this.skipped++;
    else this.failed++;
  }

  onEnd(result: FullResult): void {
    const failed = this.failed + (result.status === 'failed' && this.failed === 0 && this.passed === 0 ? 1 : 0);
    console.log(`e2e: ${this.passed} passed, ${failed} failed${this.skipped ? `, ${this.skipped} skipped` : ''}`);
  }
}
