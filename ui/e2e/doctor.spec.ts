// Settings → Check setup: the `doctor` command through the web transport against
// `nuvosync demo`: every check listed with its verdict, and what to do when one fails.
import { expect, openUi, shot, test } from './fixtures';

const IDS = ['account', 'scopes', 'host_api', 'host_content', 'host_notify', 'clock', 'inotify', 'keyring', 'state_folder'];

test.describe('linked demo', () => {
  test('check setup lists every check, the account and hosts sound', async ({ page, demo }) => {
    await openUi(page, demo, 'settings');
    const section = page.getByTestId('settings-doctor');
    await expect(section.getByRole('heading', { name: 'Check setup' })).toBeVisible();
    await section.getByTestId('doctor-run').click();
    await expect(section.getByTestId('doctor-summary')).toBeVisible();
    for (const id of IDS) await expect(section.getByTestId(`doctor-check-${id}`)).toBeVisible();
    for (const id of ['account', 'scopes', 'host_api', 'host_content', 'host_notify', 'clock']) {
      await expect(section.getByTestId(`doctor-check-${id}`)).toHaveAttribute('data-verdict', 'ok');
    }
    await expect(section.getByTestId('doctor-check-clock')).toContainText('within 60 s');
    await expect(section.getByTestId('doctor-run')).toHaveText('Check again');
    await shot(page, 'settings-doctor');
  });
});

test.describe('unlinked demo', () => {
  test.use({ demoOptions: { unlinked: true } });
  test('no account is a problem that says how to link', async ({ page, demo }) => {
    await openUi(page, demo, 'settings');
    const section = page.getByTestId('settings-doctor');
    await section.getByTestId('doctor-run').click();
    const account = section.getByTestId('doctor-check-account');
    await expect(account).toHaveAttribute('data-verdict', 'problem');
    await expect(account.getByTestId('doctor-fix')).toContainText('link');
    await expect(section.getByTestId('doctor-summary')).toContainText('problem');
    // Problems come first.
    await expect(section.locator('li').first()).toHaveAttribute('data-verdict', 'problem');
    // The emulator's hosts are still checked.
    await expect(section.getByTestId('doctor-check-host_api')).toHaveAttribute('data-verdict', 'ok');
  });
});
