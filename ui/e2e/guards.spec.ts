// The mass-delete guard: deleting most files at once pauses the pair; the status view
// explains it, and "Confirm deletions" lets the deletions go ahead.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, openUi, pairCard, shot, test } from './fixtures';

test('guards: a mass delete waits for “Confirm deletions”, then reaches Dropbox', async ({ page, demo }) => {
  const bulk = join(demo.info.local, 'bulk');
  mkdirSync(bulk);
  for (let i = 0; i < 60; i++) writeFileSync(join(bulk, `file-${String(i).padStart(2, '0')}.txt`), `file ${i}\n`);
  await demo.until('60 files on Dropbox', async () => (await demo.listFolder('/Demo Org/Demo Space/Demo Instance/bulk')).length === 60, 60_000);
  await demo.until('up to date', async () => (await demo.pairState()).state === 'up_to_date', 60_000);

  rmSync(bulk, { recursive: true });
  await demo.until('the mass-delete guard', async () => (await demo.pairState()).code === 'mass_delete', 60_000);

  await openUi(page, demo);
  const card = pairCard(page);
  await expect(card).toHaveAttribute('data-state', 'attention');
  const guidance = card.getByTestId('guidance');
  await expect(guidance).toHaveAttribute('data-kind', 'confirm_deletes');
  await expect(guidance).toContainText('Many files were deleted at once');
  await guidance.getByText('Details').click();
  await expect(guidance.getByTestId('pair-message')).toContainText('60');
  await shot(page, 'status-mass-delete');
  // The burst is held back on Dropbox while the guard holds. (The guard is windowed: the
  // watcher may deliver the first deletion or two on their own, below the threshold.)
  const held = await demo.listFolder('/Demo Org/Demo Space/Demo Instance/bulk');
  expect(held.length).toBeGreaterThan(50);
  await page.waitForTimeout(1500);
  expect(await demo.listFolder('/Demo Org/Demo Space/Demo Instance/bulk')).toHaveLength(held.length);

  await guidance.getByTestId('confirm-deletes').click();
  await expect(card.getByTestId('pair-state')).toHaveText('Up to date', { timeout: 60_000 });
  await expect(card.getByTestId('guidance')).toHaveCount(0);
  const names = (await demo.listFolder('/Demo Org/Demo Space/Demo Instance')).map((e) => e.name);
  expect(names).not.toContain('bulk');
});
