// Shared test set-up: a fresh `nuvosync demo` per test (options per file), page errors fail
// the test, and screenshots go to ../test-artifacts/screenshots/.
import { test as base, expect, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Demo } from './demo';

export const SHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../test-artifacts/screenshots');

export const test = base.extend<{ demoOptions: { unlinked?: boolean; latencyMs?: number }; demo: Demo; pageErrors: string[] }>({
  demoOptions: [{}, { option: true }],
  demo: async ({ demoOptions }, use, info) => {
    const demo = await Demo.start(demoOptions);
    try {
      await use(demo);
    } finally {
      if (info.status !== info.expectedStatus) {
        await info.attach('nuvosync-demo.log', { body: demo.log.join(''), contentType: 'text/plain' });
      }
      await demo.stop();
    }
  },
  // Any uncaught error in the page fails the test: the UI must not throw, whatever happens.
  pageErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await use(errors);
      expect(errors, 'uncaught errors in the page').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** Save a screenshot of the viewport as `<name>.png` in the artifacts folder. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  // Let transitions settle so the picture shows the resting state.
  await page.waitForTimeout(350);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), animations: 'disabled', caret: 'hide' });
}

/** Open the UI at a view and wait until the first status arrived. */
export async function openUi(page: Page, demo: Demo, view = 'status'): Promise<void> {
  await page.goto(demo.view(view));
  await expect(page.getByTestId('overall')).toBeVisible();
}

/** The status card of the demo pair. */
export const pairCard = (page: Page) => page.getByTestId('pair-demo');
