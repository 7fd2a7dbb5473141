// Conflicts: the same three files changed here and on Dropbox while paused; each resolution
// does what its button says, checked on disk and on Dropbox.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, openUi, shot, test } from './fixtures';

interface Conflict {
  id: number;
  resolved: boolean;
  mine: { path: string };
  theirs: { path: string };
}

test('conflicts: keep mine, keep Dropbox’s and keep both each do what they say', async ({ page, demo }) => {
  const local = demo.info.local;
  const file = (name: string) => join(local, name);
  const read = (name: string) => readFileSync(file(name), 'utf8');
  /** The conflicted copies of `stem` in the local folder. */
  const copies = (stem: string) => readdirSync(local).filter((n) => n.startsWith(`${stem} (conflicted copy`));

  await demo.until('the first sync', async () => (await demo.pairState()).state === 'up_to_date', 60_000);
  for (const n of ['a', 'b', 'c']) writeFileSync(file(`${n}.txt`), `base ${n}\n`);
  for (const n of ['a', 'b', 'c']) await demo.until(`${n}.txt on Dropbox`, async () => (await demo.download(`${n}.txt`)) === `base ${n}\n`);

  // Both sides change while the pair is paused.
  await demo.call({ cmd: 'pause', args: { pair: 'demo' } });
  const mine = (n: string) => `mine ${n}: edited on this computer\n`;
  const theirs = (n: string) => `theirs ${n}: edited on Dropbox by a co-author, longer\n`;
  for (const n of ['a', 'b', 'c']) {
    writeFileSync(file(`${n}.txt`), mine(n));
    await demo.upload(`${n}.txt`, theirs(n));
  }
  await demo.call({ cmd: 'resume', args: { pair: 'demo', confirm_deletes: false } });
  await demo.until('three conflicts', async () => (await demo.call<Conflict[]>({ cmd: 'conflicts', args: { include_resolved: false } })).length === 3, 60_000);

  await openUi(page, demo, 'conflicts');
  await expect(page.getByTestId('conflict-badge')).toHaveText('3');
  const card = (n: string) => page.locator(`[data-testid="conflict"][data-path="/${n}.txt"]`);
  for (const n of ['a', 'b', 'c']) {
    await expect(card(n)).toBeVisible();
    // Side by side: this computer's copy and Dropbox's version, with their sizes.
    await expect(card(n).getByTestId('mine-size')).toHaveText(`${Buffer.byteLength(mine(n))} B`);
    await expect(card(n).getByTestId('theirs-size')).toHaveText(`${Buffer.byteLength(theirs(n))} B`);
    expect(copies(n), `one conflicted copy of ${n}.txt`).toHaveLength(1);
    expect(read(copies(n)[0])).toBe(mine(n));
    expect(read(`${n}.txt`)).toBe(theirs(n));
  }
  await shot(page, 'conflicts');

  // Keep mine: my content under the original name, the copy gone — here and on Dropbox.
  await card('a').getByTestId('keep-mine').click();
  await expect(card('a')).toHaveCount(0);
  expect(read('a.txt')).toBe(mine('a'));
  expect(copies('a')).toEqual([]);
  await demo.until('a.txt on Dropbox is mine', async () => (await demo.download('a.txt')) === mine('a'));

  // Keep Dropbox's: Dropbox's content stays, my copy goes.
  await card('b').getByTestId('keep-theirs').click();
  await expect(card('b')).toHaveCount(0);
  expect(read('b.txt')).toBe(theirs('b'));
  expect(copies('b')).toEqual([]);
  expect(await demo.download('b.txt')).toBe(theirs('b'));

  // Earlier Dropbox versions of c.txt: restore the base version before keeping both.
  await card('c').getByTestId('revisions-toggle').click();
  const revs = card('c').getByTestId('revision');
  await expect(revs).toHaveCount(2);
  await shot(page, 'conflicts-revisions');
  await card('c').getByTestId('restore-revision').first().click();
  await demo.until('the base version of c.txt back on Dropbox', async () => (await demo.download('c.txt')) === 'base c\n');
  await demo.until('the base version of c.txt synced here', () => existsSync(file('c.txt')) && read('c.txt') === 'base c\n', 30_000);

  // Keep both: both files remain, as they are.
  const copyC = copies('c')[0];
  await card('c').getByTestId('keep-both').click();
  await expect(card('c')).toHaveCount(0);
  await expect(page.getByTestId('no-conflicts')).toBeVisible();
  expect(read('c.txt')).toBe('base c\n');
  expect(read(copyC)).toBe(mine('c'));
  expect(await demo.download(copyC)).toBe(mine('c'));

  // Resolved conflicts can still be looked at.
  await page.getByTestId('show-resolved').check();
  await expect(page.getByTestId('conflict')).toHaveCount(3);
  await expect(page.getByTestId('keep-mine')).toHaveCount(0);
  await expect(page.getByTestId('conflict-badge')).toHaveCount(0);
});
