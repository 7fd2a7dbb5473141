// Selective sync with the Dropbox folder picker: a folder unchecked with "Remove the local
// copy" leaves this computer (into the trash) but stays on Dropbox, a changed file in it stays
// here; checked again, it comes back.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, openUi, shot, test } from './fixtures';

test('folder picker: unchecking frees the local copy, checking brings it back', async ({ page, demo }) => {
  const local = demo.info.local;
  await demo.until('the first sync', async () => (await demo.pairState()).state === 'up_to_date', 60_000);
  mkdirSync(join(local, 'datasets', 'raw'), { recursive: true });
  writeFileSync(join(local, 'datasets', 'raw', 'big.csv'), 'x'.repeat(40_000));
  writeFileSync(join(local, 'datasets', 'notes.txt'), 'synced notes\n');
  await demo.until('the dataset on Dropbox', async () => (await demo.download('datasets/raw/big.csv'))?.length === 40_000, 30_000);
  await demo.until('the notes on Dropbox', async () => (await demo.download('datasets/notes.txt')) === 'synced notes\n', 30_000);
  await demo.call({ cmd: 'pause', args: { pair: 'demo' } });
  writeFileSync(join(local, 'datasets', 'notes.txt'), 'edited here, not synced yet\n');

  await openUi(page, demo, 'settings');
  const pair = page.getByTestId('pair-settings-demo');
  const folder = pair.locator('[data-testid="picker-folder"][data-path="/datasets"]');
  await expect(folder).toBeVisible({ timeout: 30_000 });
  await expect(folder).toContainText('2 files');
  await folder.getByRole('button', { name: 'Expand datasets' }).click();
  await expect(pair.locator('[data-testid="picker-folder"][data-path="/datasets/raw"]')).toBeVisible();

  await folder.getByTestId('picker-check').first().click(); // asks first: stays checked until answered
  await expect(folder.getByTestId('picker-ask')).toBeVisible();
  await shot(page, 'folder-picker');
  await folder.getByTestId('picker-free').click();
  await expect(pair.getByTestId('picker-result')).toContainText('1 file');
  await expect(pair.getByTestId('picker-result')).toContainText('stay');
  expect(existsSync(join(local, 'datasets', 'raw', 'big.csv'))).toBe(false);
  expect(readFileSync(join(local, 'datasets', 'notes.txt'), 'utf8')).toBe('edited here, not synced yet\n');
  await expect(folder.getByTestId('picker-check').first()).not.toBeChecked();
  await expect(pair.getByTestId('excluded-item')).toHaveText([/\/datasets/]);
  expect((await demo.download('datasets/raw/big.csv'))?.length).toBe(40_000);

  // Synced again: it comes back from Dropbox.
  await demo.call({ cmd: 'resume', args: { pair: 'demo', confirm_deletes: false } });
  await folder.getByTestId('picker-check').first().check();
  await expect(folder.getByTestId('picker-check').first()).toBeChecked();
  await demo.until('the dataset back here', () => existsSync(join(local, 'datasets', 'raw', 'big.csv')), 30_000);
  await expect(page.getByTestId('settings-dirty')).not.toHaveText('Unsaved changes');
});
