// Manual exploration (EXPLORE=1 npx playwright test): screenshots of every view at W×H.
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
    if (process.env.PROBE) {
      await demo.until('up', async () => (await demo.pairState()).state === 'up_to_date');
      await demo.call({ cmd: 'pause', args: { pair: 'demo' } });
      console.log('paused', await demo.pairState());
      await demo.upload('big-dataset.bin', Buffer.alloc(24 * 1024 * 1024, 7));
      await demo.faults({ bandwidth_bytes_per_sec: 3 * 1024 * 1024 });
      await new Promise((r) => setTimeout(r, 1500));
      console.log('still paused?', await demo.pairState());
      const ui = new URL(demo.info.ui);
      const es = await fetch(`${ui.origin}/api/events?token=${ui.searchParams.get('token')}`);
      const reader = es.body!.getReader();
      void (async () => { for (;;) { const { value, done } = await reader.read(); if (done) break; console.log('SSE', Buffer.from(value).toString().slice(0, 200)); } })();
      await demo.call({ cmd: 'resume', args: { pair: 'demo', confirm_deletes: false } });
      const t0 = Date.now();
      for (let i = 0; i < 30; i++) {
        const a = await demo.call<{ transfers: unknown[] }>({ cmd: 'activity', args: { search: null, limit: 3 } });
        console.log(Date.now() - t0, JSON.stringify(a.transfers), (await demo.pairState()).state);
        await new Promise((r) => setTimeout(r, 500));
      }
      return;
    }
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
