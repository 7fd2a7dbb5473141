// Settings round-trip: change them in the form, save, reload the page, and find them kept
// (and the daemon agreeing).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, openUi, shot, test } from './fixtures';

interface Settings {
  notifications: string;
  upload_limit: number;
  download_limit: number;
  autostart: boolean;
  mass_delete_percent: number;
  mass_delete_min_files: number;
  pairs: { name: string; watch: boolean; rescan_interval_secs: number; excluded: string[]; ignore_patterns: string }[];
}

test('settings: changes survive a reload', async ({ page, demo }) => {
  await openUi(page, demo, 'settings');
  const pair = page.getByTestId('pair-settings-demo');
  await expect(pair.getByTestId('rescan')).toHaveValue('30');
  await expect(page.getByTestId('settings-save')).toBeDisabled();

  await pair.getByTestId('rescan').fill('45');
  await pair.getByTestId('watch').uncheck();
  await pair.getByTestId('excluded-input').fill('data/raw/');
  await pair.getByTestId('excluded-add').click();
  await expect(pair.getByTestId('excluded-item')).toHaveText([/\/data\/raw/]);
  await pair.getByTestId('ignore').fill('*.tmp\n.cache/\n');
  await page.getByTestId('notifications-attention').check();
  await page.getByTestId('upload-limit').fill('512');
  await page.getByTestId('autostart').check();
  await page.getByTestId('guard-percent').fill('80');
  await page.getByTestId('guard-min-files').fill('10');
  await expect(page.getByTestId('settings-dirty')).toHaveText('Unsaved changes');
  await shot(page, 'settings');

  // An impossible interval is refused before it reaches the daemon.
  await pair.getByTestId('rescan').fill('0');
  await expect(page.getByTestId('settings-save')).toBeDisabled();
  await pair.getByTestId('rescan').fill('45');
  await page.getByTestId('guard-percent').fill('120');
  await expect(page.getByTestId('guard-problem')).toContainText('0 to 100');
  await expect(page.getByTestId('settings-save')).toBeDisabled();
  await page.getByTestId('guard-percent').fill('80');

  await page.getByTestId('settings-save').click();
  await expect(page.getByTestId('settings-dirty')).toHaveText('All changes saved');
  await expect(page.getByTestId('notice')).toHaveText('Settings saved');

  await page.reload();
  await expect(pair.getByTestId('rescan')).toHaveValue('45');
  await expect(pair.getByTestId('watch')).not.toBeChecked();
  await expect(pair.getByTestId('excluded-item')).toHaveText([/\/data\/raw/]);
  await expect(pair.getByTestId('ignore')).toHaveValue('*.tmp\n.cache/\n');
  await expect(page.getByTestId('notifications-attention')).toBeChecked();
  await expect(page.getByTestId('upload-limit')).toHaveValue('512');
  await expect(page.getByTestId('autostart')).toBeChecked();
  await expect(page.getByTestId('guard-percent')).toHaveValue('80');
  await expect(page.getByTestId('guard-min-files')).toHaveValue('10');
  await expect(page.getByTestId('settings-save')).toBeDisabled();

  // The daemon has them too, and the ignore patterns are in the folder's .nuvosyncignore.
  const s = await demo.call<Settings>({ cmd: 'settings_get' });
  expect(s).toMatchObject({ notifications: 'attention', upload_limit: 512 * 1024, autostart: true, mass_delete_percent: 80, mass_delete_min_files: 10 });
  expect(s.pairs[0]).toMatchObject({ watch: false, rescan_interval_secs: 45, excluded: ['/data/raw'], ignore_patterns: '*.tmp\n.cache/\n' });
  expect(readFileSync(join(demo.info.local, '.nuvosyncignore'), 'utf8')).toBe('*.tmp\n.cache/\n');

  // The status view reflects the pair's new settings.
  await openUi(page, demo, 'status');
  await expect(page.getByTestId('pair-demo')).toBeVisible();

  // Removing the exclusion and snoozing round-trip as well.
  await openUi(page, demo, 'settings');
  await pair.getByRole('button', { name: 'Sync /data/raw again' }).click();
  await page.getByTestId('settings-save').click();
  await expect(page.getByTestId('settings-dirty')).toHaveText('All changes saved');
  await page.getByTestId('snooze-60').click();
  await expect(page.getByTestId('snoozed-until')).toBeVisible();
  await page.reload();
  await expect(pair.getByTestId('excluded-item')).toHaveCount(0);
  await expect(page.getByTestId('snoozed-until')).toBeVisible();
  await page.getByTestId('snooze-end').click();
  await expect(page.getByTestId('snooze-60')).toBeVisible();
});

test('settings: add a folder (with the folder picker) and stop syncing it again', async ({ page, demo }) => {
  const folder = join(demo.dir, 'Second Instance');
  await openUi(page, demo, 'settings');
  await page.getByTestId('add-pair').click();
  const form = page.getByTestId('add-pair-form');
  // An incomplete form says what is missing and sends nothing.
  await form.getByTestId('add-submit').click();
  await expect(form).toContainText('Choose the local folder.');
  // The browser transport's folder picker asks for a path.
  page.once('dialog', (d) => void d.accept(folder));
  await form.getByTestId('add-pick').click();
  await expect(form.getByTestId('add-local')).toHaveValue(folder);
  await form.getByTestId('add-organization').fill('Demo Org');
  await form.getByTestId('add-space').fill('Demo Space');
  await form.getByTestId('add-instance').fill('Second Instance');
  await shot(page, 'settings-add-folder');
  await form.getByTestId('add-submit').click();
  await expect(page.getByTestId('pair-settings-second-instance')).toBeVisible();
  await expect(form).toHaveCount(0);

  // The daemon made the folder and syncs it with /Demo Org/Demo Space/Second Instance.
  writeFileSync(join(folder, 'hello.txt'), 'hello from the second folder\n');
  await demo.until('the second folder on Dropbox', async () => {
    const names = (await demo.listFolder('/Demo Org/Demo Space')).map((e) => e.name);
    return names.includes('Second Instance') && (await demo.listFolder('/Demo Org/Demo Space/Second Instance')).some((e) => e.name === 'hello.txt');
  }, 60_000);
  await page.getByTestId('nav-status').click();
  await expect(page.getByTestId('pair-second-instance')).toBeVisible();

  // A name that is taken is refused with the daemon's words.
  await page.getByTestId('nav-settings').click();
  await page.getByTestId('add-pair').click();
  await form.getByTestId('add-local').fill(join(demo.dir, 'Third'));
  await form.getByTestId('add-organization').fill('Demo Org');
  await form.getByTestId('add-space').fill('Demo Space');
  await form.getByTestId('add-instance').fill('Third');
  await form.getByTestId('add-name').fill('demo');
  await form.getByTestId('add-submit').click();
  await expect(form.getByTestId('add-error')).toContainText('exists');
  await form.getByRole('button', { name: 'Cancel' }).click();

  const second = page.getByTestId('pair-settings-second-instance');
  await second.getByTestId('remove-pair').click();
  await second.getByTestId('remove-pair-confirm').click();
  await expect(second).toHaveCount(0);
  const s = await demo.call<Settings>({ cmd: 'settings_get' });
  expect(s.pairs.map((p) => p.name)).toEqual(['demo']);
  expect(readFileSync(join(folder, 'hello.txt'), 'utf8')).toBe('hello from the second folder\n');
});
