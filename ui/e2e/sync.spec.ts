// Sync progress to completion: files from this computer and from Dropbox, a large download
// shown with a live progress bar, then everything up to date and in the history.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, openUi, pairCard, shot, test } from './fixtures';

const BIG = 24 * 1024 * 1024;

test('sync: local and Dropbox changes reach up to date, with live progress and history', async ({ page, demo }) => {
  await openUi(page, demo);
  const card = pairCard(page);
  await expect(card.getByTestId('pair-state')).toHaveText('Up to date', { timeout: 60_000 });
  await expect(page.getByTestId('account-email')).toHaveText('demo@example.com');
  await shot(page, 'status');

  // Pause from the UI while both sides change, so the download below can be throttled first.
  await card.getByTestId('pause').click();
  await expect(card.getByTestId('pair-state')).toHaveText('Paused');
  await expect(card.getByTestId('resume')).toBeVisible();

  const local = demo.info.local;
  mkdirSync(join(local, 'notes'), { recursive: true });
  writeFileSync(join(local, 'notes', 'one.txt'), 'first note\n');
  writeFileSync(join(local, 'notes', 'two.txt'), 'second note, a little longer\n');
  writeFileSync(join(local, 'results.csv'), 'a,b\n1,2\n');
  const big = Buffer.alloc(BIG, 7);
  await demo.upload('From a co-author.txt', 'written on Dropbox\n');
  await demo.upload('big-dataset.bin', big);
  await demo.faults({ bandwidth_bytes_per_sec: 3 * 1024 * 1024 });

  await card.getByTestId('resume').click();
  await page.getByTestId('nav-activity').click();
  await expect(page.getByTestId('view-activity')).toBeVisible();

  // The large download shows up with a progress bar that moves.
  const row = page.locator('[data-testid="transfer"][data-path="/big-dataset.bin"]');
  await expect(row, 'a live transfer for the 24 MB download: the daemon must deliver Progress events (/api/events) and list it in `activity`').toBeVisible({ timeout: 30_000 });
  const bar = row.getByTestId('transfer-progress');
  await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 30_000 }).toBeGreaterThan(15);
  await expect(row).toContainText(/MB of 24 MB/);
  await expect(row).toContainText(/\/s/);
  await shot(page, 'activity');
  await demo.faults({ bandwidth_bytes_per_sec: 0 });

  // Finished transfers leave the list; everything lands in the history.
  await expect(page.getByTestId('no-transfers')).toBeVisible({ timeout: 60_000 });
  const item = (path: string) => page.locator(`[data-testid="history-item"][data-path="${path}"]`).first();
  for (const p of ['/notes/one.txt', '/notes/two.txt', '/results.csv']) {
    await expect(item(p)).toHaveAttribute('data-action', 'uploaded', { timeout: 30_000 });
  }
  for (const p of ['/From a co-author.txt', '/big-dataset.bin']) {
    await expect(item(p)).toHaveAttribute('data-action', 'downloaded', { timeout: 30_000 });
  }

  // Search narrows the history (the daemon's `search`).
  await page.getByTestId('history-search').fill('notes/');
  await expect(page.getByTestId('history-item')).toHaveCount(2);
  await page.getByTestId('history-search').fill('no such file');
  await expect(page.getByTestId('history-empty')).toBeVisible();
  await page.getByTestId('history-search').fill('');

  await page.getByTestId('nav-status').click();
  await expect(card.getByTestId('pair-state')).toHaveText('Up to date', { timeout: 60_000 });
  await expect(page.getByTestId('summary')).toHaveText('Up to date');
  // 3 demo files + 3 written here + 2 from Dropbox.
  await expect(card.getByTestId('pair-files')).toContainText('8 files');

  // And on disk / on Dropbox, really.
  expect(statSync(join(local, 'big-dataset.bin')).size).toBe(BIG);
  expect(readFileSync(join(local, 'From a co-author.txt'), 'utf8')).toBe('written on Dropbox\n');
  expect(await demo.download('notes/two.txt')).toBe('second note, a little longer\n');
});
