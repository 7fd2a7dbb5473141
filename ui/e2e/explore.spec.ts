// A tool for people, not a test: `EXPLORE=1 [W=400 H=500] [UNLINKED=1] npx playwright test`
// saves every view at W×H to /tmp/shot-*.png and prints whether anything scrolls sideways;
// `KEYS=settings` instead prints the focus order of a view as Tab moves through it.
import { test } from '@playwright/test';
import { Demo } from './demo';

test('explore', async ({ page }) => {
  const demo = await Demo.start({ unlinked: !!process.env.UNLINKED });
  try {
    if (process.env.KEYS) {
      await page.goto(demo.view(process.env.KEYS));
      await page.waitForTimeout(1500);
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press('Tab');
        const d = await page.evaluate(() => {
          const e = document.activeElement as HTMLElement | null;
          if (!e) return 'none';
          const cs = getComputedStyle(e);
          return `${e.tagName} ${e.getAttribute('data-testid') ?? ''} "${(e.textContent ?? '').trim().slice(0, 30)}" outline=${cs.outlineStyle}/${cs.outlineWidth}`;
        });
        console.log(i, d);
      }
      return;
    }
    const w = Number(process.env.W ?? 900);
    const h = Number(process.env.H ?? 650);
    await page.setViewportSize({ width: w, height: h });
    if (process.env.DARK) await page.emulateMedia({ colorScheme: 'dark' });
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
