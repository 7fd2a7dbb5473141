// Manual exploration (EXPLORE=1 npx playwright test): screenshots of every view at W×H.
import { test } from '@playwright/test';
import { Demo } from './demo';

test('explore', async ({ page }) => {
  const demo = await Demo.start({ unlinked: !!process.env.UNLINKED });
  try {
    const w = Number(process.env.W ?? 900);
    const h = Number(process.env.H ?? 650);
    await page.setViewportSize({ width: w, height: h });
    page.on('console', (m) => console.log('console:', m.text()));
    page.on('pageerror', (e) => console.log('pageerror:', e.message));
    for (const v of ['status', 'activity', 'conflicts', 'settings', 'link']) {
      await page.goto(demo.view(v));
      await page.waitForTimeout(1500);
      await page.screenshot({ path: `/tmp/shot-${v}-${w}.png`, fullPage: true });
      console.log(v, 'scrollWidth', await page.evaluate(() => document.documentElement.scrollWidth));
    }
    await page.goto(demo.view('status'));
    await page.waitForTimeout(800);
    await page.getByTestId('nav-restore').click();
    await page.waitForTimeout(500);
    await page.screenshot({ path: `/tmp/shot-wizard-${w}.png` });
  } finally {
    await demo.stop();
  }
});
