// Linking: from an unlinked daemon, through the emulator's consent page, to a syncing pair.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, openUi, pairCard, shot, test } from './fixtures';

test.use({ demoOptions: { unlinked: true }, ignoreHTTPSErrors: true });

test('link: consent in the opened page, then linked as demo@example.com and up to date', async ({ page, context, demo }) => {
  const before = await demo.call<{ linked: boolean }>({ cmd: 'status' });
  expect(before.linked, 'the demo started with --unlinked must report no linked account').toBe(false);

  await openUi(page, demo);
  // An unlinked daemon sends the UI to the Link view.
  await expect(page.getByTestId('view-link')).toBeVisible();
  await expect(page.getByTestId('link-start')).toBeEnabled();
  await shot(page, 'link');

  const consentOpened = context.waitForEvent('page');
  await page.getByTestId('link-start').click();
  const consent = await consentOpened;
  await expect(page.getByTestId('link-waiting')).toBeVisible();
  await shot(page, 'link-waiting');

  await consent.waitForLoadState();
  await expect(consent.locator('#account')).toBeVisible();
  await consent.locator('#account').selectOption({ label: 'demo@example.com' });
  await consent.locator('#allow').click();
  // The browser lands on the daemon's loopback page.
  await expect(consent.locator('h1')).toContainText(/linked/i);
  await consent.close();

  await expect(page.getByTestId('linked-as')).toContainText('Linked as demo@example.com');
  await shot(page, 'link-done');

  await page.getByTestId('link-done').click();
  await expect(page.getByTestId('account-email')).toHaveText('demo@example.com');
  await expect(pairCard(page).getByTestId('pair-state')).toHaveText('Up to date', { timeout: 60_000 });
  const after = await demo.call<{ linked: boolean }>({ cmd: 'status' });
  expect(after.linked).toBe(true);

  // Unlink from Settings: a confirmation first, then no account; the files stay.
  await page.getByTestId('nav-settings').click();
  await expect(page.getByTestId('settings-account-email')).toHaveText('demo@example.com');
  await page.getByTestId('unlink').click();
  await page.getByTestId('unlink-confirm').click();
  await expect(page.getByTestId('settings-account')).toContainText('No account is linked');
  await expect(page.getByTestId('summary')).toHaveText('Not linked to Dropbox');
  expect((await demo.call<{ linked: boolean }>({ cmd: 'status' })).linked).toBe(false);
  expect(existsSync(join(demo.info.local, 'README.md'))).toBe(true);
});

test('link: a denied consent is shown plainly and can be tried again', async ({ page, context, demo }) => {
  await openUi(page, demo, 'link');
  const consentOpened = context.waitForEvent('page');
  await page.getByTestId('link-start').click();
  const consent = await consentOpened;
  await consent.locator('#deny').click();
  await consent.close();
  await expect(page.getByTestId('link-error')).toBeVisible();
  await expect(page.getByTestId('link-error')).not.toBeEmpty();
  await expect(page.getByTestId('link-start')).toHaveText('Try again');
  await shot(page, 'link-error');
  expect((await demo.call<{ linked: boolean }>({ cmd: 'status' })).linked).toBe(false);
});
