import { describe, expect, it } from 'vitest';
import type { SettingsDto } from '../bindings/SettingsDto';
import { draftOf, guardProblem, isExcluded, newPairProblems, normaliseExcluded, normaliseFolder, pairPatch, rescanProblem, settingsPatch, snoozePatch } from './settings';

const saved: SettingsDto = {
  notifications: 'all',
  snoozed_until: null,
  upload_limit: 0,
  download_limit: 0,
  autostart: false,
  mass_delete_percent: 50,
  mass_delete_min_files: 50,
  pairs: [
    { name: 'demo', local: '/l', organization: 'O', space: 'S', instance: 'I', watch: true, rescan_interval_secs: 30, excluded: [], ignore_patterns: '' },
    { name: 'other', local: '/m', organization: 'O', space: 'S', instance: 'J', watch: true, rescan_interval_secs: 60, excluded: ['/a'], ignore_patterns: '*.tmp\n' },
  ],
};

describe('settingsPatch', () => {
  it('is null when nothing changed', () => {
    expect(settingsPatch(saved, draftOf(saved))).toBeNull();
  });
  it('sends only what changed, with null for the rest', () => {
    const d = draftOf(saved);
    d.notifications = 'attention';
    d.upload_limit = 1024;
    d.pairs[0].rescan_interval_secs = 120;
    d.pairs[0].watch = false;
    expect(settingsPatch(saved, d)).toEqual({
      notifications: 'attention',
      snooze_minutes: null,
      upload_limit: 1024,
      download_limit: null,
      autostart: null,
      mass_delete_percent: null,
      mass_delete_min_files: null,
      pairs: [{ name: 'demo', watch: false, rescan_interval_secs: 120, excluded: null, ignore_patterns: null }],
    });
  });
  it('replaces excluded folders and ignore patterns whole', () => {
    const d = draftOf(saved);
    d.pairs[1].excluded = ['/a', 'b/c/'];
    d.pairs[1].ignore_patterns = '';
    expect(settingsPatch(saved, d)?.pairs).toEqual([
      { name: 'other', watch: null, rescan_interval_secs: null, excluded: ['/a', '/b/c'], ignore_patterns: '' },
    ]);
  });
  it('does not copy the draft by reference', () => {
    const d = draftOf(saved);
    d.pairs[0].excluded.push('/x');
    expect(saved.pairs[0].excluded).toEqual([]);
  });
  it('ignores an exclusion that only differs in spelling of slashes', () => {
    const b = saved.pairs[1];
    expect(pairPatch(b, { ...b, excluded: ['a/'] })).toBeNull();
  });
  it('skips pairs it does not know (added elsewhere)', () => {
    const d = draftOf(saved);
    d.pairs.push({ ...d.pairs[0], name: 'new', watch: false });
    expect(settingsPatch(saved, d)).toBeNull();
  });
  it('snoozes without touching anything else', () => {
    expect(snoozePatch(60)).toEqual({ notifications: null, snooze_minutes: 60, upload_limit: null, download_limit: null, autostart: null, mass_delete_percent: null, mass_delete_min_files: null, pairs: [] });
    expect(snoozePatch(-5).snooze_minutes).toBe(0);
  });
});

describe('folders and fields', () => {
  it('normalises excluded folders as the daemon stores them', () => {
    expect(normaliseFolder('data/raw/')).toBe('/data/raw');
    expect(normaliseFolder(' /data//raw ')).toBe('/data/raw');
    expect(normaliseFolder('.\\win\\path')).toBe('/win/path');
    expect(normaliseFolder('../outside')).toBe('');
    expect(normaliseFolder('/')).toBe('');
  });
  it('drops duplicates regardless of case', () => {
    expect(normaliseExcluded(['/Data', 'data/', '/x', ''])).toEqual(['/Data', '/x']);
  });
  it('checks rescan intervals', () => {
    expect(rescanProblem(30)).toBeNull();
    expect(rescanProblem('45')).toBeNull();
    expect(rescanProblem(0)).toMatch(/at least 1/);
    expect(rescanProblem(1.5)).toMatch(/whole/);
    expect(rescanProblem(null)).toMatch(/whole/);
    expect(rescanProblem(10 ** 7)).toMatch(/one week/);
  });
  it('checks a new pair', () => {
    expect(newPairProblems({ local: '/home/me/lab', organization: 'A', space: 'B', instance: 'C' })).toEqual({});
    const p = newPairProblems({ local: 'lab', organization: '', space: 'a/b', instance: ' ' });
    expect(Object.keys(p).sort()).toEqual(['instance', 'local', 'organization', 'space']);
  });
});

describe('exporting Paper docs', () => {
  it('sends the switch only when it changed', () => {
    const before = { ...saved, export_documents: false };
    expect(settingsPatch(before, draftOf(before))).toBeNull();
    const d = draftOf(before);
    d.export_documents = true;
    expect(settingsPatch(before, d)?.export_documents).toBe(true);
  });
});

describe('the mass-delete guard', () => {
  it('sends only the field that changed', () => {
    const d = draftOf(saved);
    d.mass_delete_percent = 80;
    const p = settingsPatch(saved, d);
    expect(p?.mass_delete_percent).toBe(80);
    expect(p?.mass_delete_min_files).toBeNull();
  });
  it('accepts 0 to 100 % and a whole number of files', () => {
    expect(guardProblem(0, 0)).toBeNull();
    expect(guardProblem(100, 10)).toBeNull();
    expect(guardProblem(101, 10)).toMatch(/0 to 100/);
    expect(guardProblem(Number.NaN, 10)).toMatch(/0 to 100/);
    expect(guardProblem(50, -1)).toMatch(/0 or more/);
    expect(guardProblem(50, 2.5)).toMatch(/whole number/);
  });
});

describe('isExcluded', () => {
  it('is true for an excluded folder and what is below it, case-insensitively', () => {
    const ex = ['/Data', 'big/raw/'];
    expect(isExcluded(ex, '/data')).toBe(true);
    expect(isExcluded(ex, '/DATA/sub')).toBe(true);
    expect(isExcluded(ex, '/big/raw/x')).toBe(true);
    expect(isExcluded(ex, '/big')).toBe(false);
    expect(isExcluded(ex, '/database')).toBe(false);
    expect(isExcluded([], '/data')).toBe(false);
  });
});
