// The restore wizard: a snapshot brought back an older marker; the wizard previews, applies
// (Dropbox's folder moved aside to a backup, restored files uploaded) — or, when it was not a
// restore, shows what normal sync would do and continues after a second confirmation.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import type { Demo } from './demo';
import { expect, openUi, pairCard, shot, test } from './fixtures';

const marker = (demo: Demo) => join(demo.info.local, '.nuvosync', 'marker.json');
const generation = (demo: Demo) => (JSON.parse(readFileSync(marker(demo), 'utf8')) as { generation: number }).generation;

/** Sync, keep the marker, move the folder's generation on, then put the old marker back. */
async function simulateRestore(demo: Demo): Promise<void> {
  await demo.until('the first sync', async () => (await demo.pairState()).state === 'up_to_date', 60_000);
  const snapshot = readFileSync(marker(demo), 'utf8');
  const before = generation(demo);
  writeFileSync(join(demo.info.local, 'after-snapshot.txt'), 'written after the snapshot\n');
  writeFileSync(join(demo.info.local, 'README.md'), '# Demo instance\n\nEdited after the snapshot.\n');
  await demo.until('the generation to move on', async () => generation(demo) > before && (await demo.pairState()).state === 'up_to_date', 60_000);
  await demo.until('both files on Dropbox', async () => (await demo.download('after-snapshot.txt')) !== null);
  writeFileSync(marker(demo), snapshot);
  await demo.call({ cmd: 'sync_now', args: { pair: null } });
  await demo.until('the restore to be detected', async () => (await demo.pairState()).code === 'restore_detected', 60_000);
}

async function openWizardFromStatus(page: Page, demo: Demo) {
  await openUi(page, demo);
  const card = pairCard(page);
  await expect(card).toHaveAttribute('data-state', 'attention');
  await expect(card.getByTestId('guidance')).toHaveAttribute('data-kind', 'restore');
  await expect(page.getByTestId('pause')).toHaveCount(0); // a guard's pause is not the user's to lift blindly
  await shot(page, 'status-restore-detected');
  await card.getByTestId('open-restore').click();
  const wizard = page.getByTestId('wizard');
  await expect(wizard).toBeVisible();
  await expect(wizard.getByTestId('wizard-detected')).toBeVisible();
  return wizard;
}

// The emulator's "dropbox.com" pages are HTTPS with the emulator's own CA.
test.use({ demoOptions: { latencyMs: 40 }, ignoreHTTPSErrors: true });

test('restore wizard: preview, confirm, apply; Dropbox’s folder is kept as a backup', async ({ page, context, demo }) => {
  await simulateRestore(demo);
  // What the snapshot brought back: the old README, no after-snapshot.txt, and a file Dropbox never had.
  writeFileSync(join(demo.info.local, 'README.md'), '# Demo instance\n\nFiles here are mirrored to Dropbox.\n');
  rmSync(join(demo.info.local, 'after-snapshot.txt'));
  writeFileSync(join(demo.info.local, 'only-in-snapshot.txt'), 'restored from the snapshot\n');

  const wizard = await openWizardFromStatus(page, demo);
  await expect(wizard).toHaveAttribute('data-step', 'explain');
  await expect(wizard.getByTestId('wizard-step')).toHaveText('Step 1 of 5');
  await shot(page, 'wizard-1-explain');

  await wizard.getByTestId('wizard-preview').click();
  await expect(wizard).toHaveAttribute('data-step', 'preview');
  await expect(wizard.getByTestId('plan-replaced')).toHaveAttribute('data-count', '1');
  await expect(wizard.getByTestId('plan-removed')).toHaveAttribute('data-count', '1');
  await expect(wizard.getByTestId('plan-uploaded')).toHaveAttribute('data-count', '1');
  await expect(wizard.getByTestId('plan-replaced')).toContainText('/README.md');
  await expect(wizard.getByTestId('plan-removed')).toContainText('/after-snapshot.txt');
  await expect(wizard.getByTestId('plan-uploaded')).toContainText('/only-in-snapshot.txt');
  await expect(wizard.getByTestId('backup-folder')).toHaveText(/^Demo Instance \(before restore \d{4}-\d\d-\d\d \d\d\.\d\d\)$/);
  await shot(page, 'wizard-2-preview');

  await wizard.getByTestId('wizard-next').click();
  await expect(wizard).toHaveAttribute('data-step', 'confirm');
  await shot(page, 'wizard-3-confirm');

  await wizard.getByTestId('wizard-apply').click();
  await expect(wizard).toHaveAttribute('data-step', /progress|result/);
  if ((await wizard.getAttribute('data-step')) === 'progress') await shot(page, 'wizard-4-progress');
  await expect(wizard).toHaveAttribute('data-step', 'result', { timeout: 60_000 });
  await expect(wizard.getByTestId('wizard-result')).toBeVisible();
  const backup = (await wizard.getByTestId('result-backup').textContent())!.trim();
  expect(backup).toMatch(/^Demo Instance \(before restore /);
  await shot(page, 'wizard-5-result');

  // "Open the backup on Dropbox" opens the backup folder's web address.
  const opened = context.waitForEvent('page');
  await wizard.getByTestId('open-backup').click();
  const web = await opened;
  expect(decodeURIComponent(web.url())).toContain(`/Demo Org/Demo Space/${backup}`);
  await web.close();
  await wizard.getByTestId('wizard-close').click();
  await expect(wizard).toHaveCount(0);

  // On Dropbox: the backup next to a fresh instance folder holding the restored files.
  const space = await demo.listFolder('/Demo Org/Demo Space');
  expect(space.map((e) => e.name).sort()).toEqual(['Demo Instance', backup].sort());
  const kept = (await demo.listFolder(`/Demo Org/Demo Space/${backup}`)).map((e) => e.name);
  expect(kept).toContain('after-snapshot.txt');
  await expect(pairCard(page).getByTestId('pair-state')).toHaveText('Up to date', { timeout: 60_000 });
  expect(await demo.download('README.md')).toBe('# Demo instance\n\nFiles here are mirrored to Dropbox.\n');
  expect(await demo.download('only-in-snapshot.txt')).toBe('restored from the snapshot\n');
  expect(await demo.download('after-snapshot.txt')).toBeNull();
});

test('restore wizard: “this was not a restore” previews normal sync and needs a second confirmation', async ({ page, demo }) => {
  // From the navigation, with nothing detected, the wizard offers only the restore itself.
  await openUi(page, demo);
  await page.getByTestId('nav-restore').click();
  await expect(page.getByTestId('wizard')).toBeVisible();
  await expect(page.getByTestId('wizard-not-restore')).toHaveCount(0);
  await page.getByTestId('wizard-close').click();
  await expect(page.getByTestId('wizard')).toHaveCount(0);

  await simulateRestore(demo);
  rmSync(join(demo.info.local, 'after-snapshot.txt'));
  // While it waits, a co-author edits a file this computer has unchanged.
  await demo.upload('From Dropbox.txt', 'edited by the co-author during the pause\n');

  const wizard = await openWizardFromStatus(page, demo);
  await wizard.getByTestId('wizard-not-restore').click();
  await expect(wizard).toHaveAttribute('data-step', 'continue_preview');
  await expect(wizard.getByTestId('cont-removed')).toContainText('/after-snapshot.txt');
  await expect(wizard.getByTestId('cont-overwritten_here')).toContainText('/From Dropbox.txt');
  await expect(wizard.getByTestId('cont-overwritten_here')).toHaveAttribute('data-count', '1');
  const go = wizard.getByTestId('continue-confirm');
  await expect(go).toBeDisabled();
  await shot(page, 'wizard-continue-preview');
  await wizard.getByTestId('continue-ack').check();
  await expect(go).toBeEnabled();
  await go.click();
  await expect(wizard.getByTestId('continue-done')).toBeVisible();
  await wizard.getByTestId('wizard-close').click();

  await expect(pairCard(page).getByTestId('pair-state')).toHaveText('Up to date', { timeout: 60_000 });
  await demo.until('the deletion to reach Dropbox', async () => (await demo.download('after-snapshot.txt')) === null);
  expect(readFileSync(join(demo.info.local, 'From Dropbox.txt'), 'utf8')).toBe('edited by the co-author during the pause\n');
  const space = await demo.listFolder('/Demo Org/Demo Space');
  expect(space.map((e) => e.name)).toEqual(['Demo Instance']);
});
