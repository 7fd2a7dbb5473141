// Version history and recently deleted files in the Activity view: a file's versions listed
// newest first and an earlier one restored (the current one stays in the history), then a
// file deleted here is listed under "Recently deleted" and brought back.
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, openUi, shot, test } from './fixtures';

test('versions: any file’s history restores an earlier version; a deleted file comes back', async ({ page, demo }) => {
  const local = demo.info.local;
  const file = join(local, 'report.txt');
  await demo.until('the first sync', async () => (await demo.pairState()).state === 'up_to_date', 60_000);
  writeFileSync(file, 'draft 1\n');
  await demo.until('draft 1 on Dropbox', async () => (await demo.download('report.txt')) === 'draft 1\n');
  await demo.upload('report.txt', 'draft 2, edited on Dropbox\n');
  await demo.until('draft 2 here', () => existsSync(file) && readFileSync(file, 'utf8') === 'draft 2, edited on Dropbox\n', 30_000);
  writeFileSync(join(local, 'old-notes.txt'), 'notes to delete\n');
  await demo.until('the notes on Dropbox', async () => (await demo.download('old-notes.txt')) === 'notes to delete\n');

  await openUi(page, demo, 'activity');
  const item = page.locator('[data-testid="history-item"][data-path="/report.txt"]').first();
  await expect(item).toBeVisible({ timeout: 30_000 });
  await item.getByTestId('versions-toggle').click();
  const versions = item.getByTestId('version');
  await expect(versions).toHaveCount(2);
  await expect(versions.first()).toContainText('current');
  await shot(page, 'version-history');

  // The older version back: on Dropbox at once, here after the sync; three versions now.
  await item.getByTestId('restore-version').click();
  await demo.until('draft 1 current on Dropbox', async () => (await demo.download('report.txt')) === 'draft 1\n');
  await demo.until('draft 1 here', () => readFileSync(file, 'utf8') === 'draft 1\n', 30_000);
  await expect(versions).toHaveCount(3);

  // Deleted here, so on Dropbox: listed, then brought back.
  unlinkSync(join(local, 'old-notes.txt'));
  await demo.until('the notes gone from Dropbox', async () => (await demo.download('old-notes.txt')) === null);
  await page.getByTestId('deleted-load').click();
  const gone = page.locator('[data-testid="deleted-item"][data-path="/old-notes.txt"]');
  await expect(gone).toBeVisible();
  await expect(page.locator('[data-testid="deleted-item"][data-path="/report.txt"]')).toHaveCount(0);
  await item.getByTestId('versions-toggle').click();
  await page.setViewportSize({ width: 900, height: 1100 });
  await page.getByTestId('deleted').evaluate((e) => e.scrollIntoView({ block: 'end' }));
  await shot(page, 'recently-deleted');
  await gone.getByTestId('undelete').click();
  await expect(gone).toHaveCount(0);
  await demo.until('the notes back here', () => existsSync(join(local, 'old-notes.txt')) && readFileSync(join(local, 'old-notes.txt'), 'utf8') === 'notes to delete\n', 30_000);
  await page.getByTestId('deleted-load').click();
  await expect(page.getByTestId('deleted-empty')).toBeVisible();
});
