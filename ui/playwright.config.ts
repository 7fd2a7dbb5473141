import { defineConfig } from '@playwright/test';

// E2E_VIEWPORT=400x500 runs the same tests at the tray window's size.
const [vw, vh] = (process.env.E2E_VIEWPORT ?? '900x650').split('x').map(Number);

// Browser tests: Debian's Chromium driven by Playwright (never a downloaded browser), one
// `nuvosync demo` per test. Serial: each test runs a daemon, an emulator and a browser, and
// these machines have two cores.
export default defineConfig({
  testDir: 'e2e',
  // explore.spec.ts is a tool for people (EXPLORE=1), not a test.
  testMatch: process.env.EXPLORE ? '**/explore.spec.ts' : '**/*.spec.ts',
  testIgnore: process.env.EXPLORE ? [] : ['**/explore.spec.ts'],
  workers: 1,
  fullyParallel: false,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  retries: 0,
  outputDir: '../test-artifacts/playwright',
  globalSetup: './e2e/global-setup.ts',
  reporter: [['list'], ['./e2e/summary-reporter.ts']],
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: vw, height: vh },
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
    trace: 'off',
    screenshot: 'only-on-failure',
  },
});
