import { describe, expect, it } from 'vitest';
import type { PairState } from '../bindings/PairState';
import { breadcrumb, guidance, pausedByGuard, stateLook } from './state';

describe('stateLook', () => {
  it('gives every state its own label, tone and icon', () => {
    const all: PairState[] = ['up_to_date', 'syncing', 'paused', 'offline', 'attention', 'error'];
    const looks = all.map(stateLook);
    expect(looks.map((l) => l.label)).toEqual(['Up to date', 'Syncing', 'Paused', 'Offline', 'Needs your attention', 'Error']);
    expect(new Set(looks.map((l) => l.tone)).size).toBe(all.length);
    expect(new Set(looks.map((l) => l.icon)).size).toBe(all.length);
  });
  it('maps states to tones a person reads right', () => {
    expect(stateLook('up_to_date').tone).toBe('ok');
    expect(stateLook('error').tone).toBe('error');
    expect(stateLook('attention').tone).toBe('attention');
  });
  it('treats an unknown state (a newer daemon) as an error rather than crashing', () => {
    expect(stateLook('bogus' as PairState).label).toBe('Error');
  });
});

describe('guidance', () => {
  const base = { state: 'attention' as PairState, conflicts: 0 };
  it('asks to confirm deletions for the delete guards', () => {
    expect(guidance({ ...base, code: 'mass_delete' })?.kind).toBe('confirm_deletes');
    expect(guidance({ ...base, code: 'empty_remote' })?.kind).toBe('confirm_deletes');
  });
  it('offers the restore wizard when a restore was detected', () => {
    expect(guidance({ ...base, code: 'restore_detected' })?.kind).toBe('restore');
  });
  it('sends to linking when the account is missing or refused', () => {
    expect(guidance({ ...base, code: 'not_linked' })?.kind).toBe('relink');
    expect(guidance({ ...base, code: 'auth' })?.title).toMatch(/refused/);
  });
  it('has nothing to say without a code', () => {
    expect(guidance({ ...base, code: null })).toBeNull();
    expect(guidance({ ...base, code: 'user' })).toBeNull();
  });
  it('knows which pauses are guards', () => {
    expect(pausedByGuard({ code: 'mass_delete' })).toBe(true);
    expect(pausedByGuard({ code: 'user' })).toBe(false);
    expect(pausedByGuard({ code: null })).toBe(false);
  });
});

it('writes the Dropbox path as a breadcrumb', () => {
  expect(breadcrumb({ organization: 'Acme', space: 'Research', instance: 'Main' })).toBe('Acme › Research › Main');
});
