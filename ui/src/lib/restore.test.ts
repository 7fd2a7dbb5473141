import { describe, expect, it } from 'vitest';
import type { RestorePlanDto } from '../bindings/RestorePlanDto';
import { CONTINUE_STEPS, RESTORE_STEPS, backupName, continueGroups, continueIsDestructive, restoreGroups, stepLabel } from './restore';

const plan: RestorePlanDto = {
  pair: 'demo',
  detected: true,
  replaced: [
    { path: '/z.txt', size: 2048 },
    { path: '/a.txt', size: 1024 },
  ],
  removed: [],
  uploaded: [{ path: '/new.txt', size: 10 }],
  not_synced: [],
  overwritten_here: [],
  deleted_here: [],
  conflicts: [],
  unchanged: 4,
  backup_folder: '/Org/Space/Inst (before restore 2026-11-27 11.48)',
};

describe('restore preview groups', () => {
  it('puts non-empty groups first, keeping their order, with entries sorted by path', () => {
    const g = restoreGroups(plan);
    expect(g.map((x) => x.key)).toEqual(['replaced', 'uploaded', 'removed']);
    expect(g[0].items.map((i) => i.path)).toEqual(['/a.txt', '/z.txt']);
  });
  it('sums sizes and says so', () => {
    const g = restoreGroups(plan);
    expect(g[0].size).toBe(3072);
    expect(g[0].summary).toBe('2 files, 3.0 KB');
    expect(g[2].summary).toBe('none');
  });
  it('shows what stays in place only when there is some', () => {
    expect(restoreGroups(plan).some((g) => g.key === 'not_synced')).toBe(false);
    const g = restoreGroups({ ...plan, not_synced: [{ path: '/Big Data', size: null }] });
    expect(g.find((x) => x.key === 'not_synced')?.explain).toMatch(/stay in the instance folder/);
    expect(g.find((x) => x.key === 'not_synced')?.summary).toBe('1 file or folder');
  });
  it('names the backup folder in the explanation', () => {
    expect(restoreGroups(plan)[0].explain).toContain('Inst (before restore 2026-11-27 11.48)');
  });
  it('does not change the plan it was given', () => {
    restoreGroups(plan);
    expect(plan.replaced[0].path).toBe('/z.txt');
  });
});

describe('continue-normally groups', () => {
  const cont: RestorePlanDto = { ...plan, replaced: [], uploaded: [], removed: [{ path: '/old', size: 3 }, { path: '/x.txt', size: 1 }] };
  it('counts files inside deleted folders', () => {
    const removed = continueGroups(cont).find((g) => g.key === 'removed')!;
    expect(removed.summary).toBe('4 files');
    expect(removed.title).toMatch(/Deleted on Dropbox/);
  });
  it('is destructive when Dropbox loses or replaces something', () => {
    expect(continueIsDestructive(cont)).toBe(true);
    expect(continueIsDestructive({ ...cont, removed: [] })).toBe(false);
    expect(continueIsDestructive({ ...cont, removed: [], replaced: [{ path: '/a', size: 1 }] })).toBe(true);
  });
  it('is destructive when this computer loses or replaces something, or both sides changed', () => {
    const quiet = { ...cont, removed: [] };
    expect(continueIsDestructive({ ...quiet, overwritten_here: [{ path: '/k', size: 5 }] })).toBe(true);
    expect(continueIsDestructive({ ...quiet, deleted_here: [{ path: '/old', size: 2 }] })).toBe(true);
    expect(continueIsDestructive({ ...quiet, conflicts: [{ path: '/c', size: 1 }] })).toBe(true);
  });
  it('lists what changes here, with folders counted by their files', () => {
    const g = continueGroups({ ...cont, removed: [], deleted_here: [{ path: '/old', size: 2 }], overwritten_here: [{ path: '/k', size: 5 }] });
    expect(g.map((x) => x.key).slice(0, 2)).toEqual(['overwritten_here', 'deleted_here']);
    expect(g[1].summary).toBe('2 files');
    expect(g[0].title).toMatch(/this computer/);
  });
});

describe('wizard steps', () => {
  it('numbers the steps of each path', () => {
    expect(stepLabel('explain')).toBe(`Step 1 of ${RESTORE_STEPS.length}`);
    expect(stepLabel('result')).toBe('Step 5 of 5');
    expect(stepLabel('continue_preview')).toBe(`Step 2 of ${CONTINUE_STEPS.length}`);
  });
  it('takes the last component of the backup path', () => {
    expect(backupName(plan.backup_folder)).toBe('Inst (before restore 2026-11-27 11.48)');
    expect(backupName('')).toBe('');
  });
});
