import { describe, expect, it } from 'vitest';
import type { DeletedDto } from '../bindings/DeletedDto';
import { fileKey, isoToEpoch, mergeDeleted, without } from './versions';

const d = (pair: string, path: string, deleted_at: string): DeletedDto => ({ pair, path, deleted_at, size: 1, rev: 'r' });

describe('versions', () => {
  it('reads Dropbox timestamps and refuses malformed ones', () => {
    expect(isoToEpoch('1970-01-01T00:01:00Z')).toBe(60);
    expect(isoToEpoch('2026-12-05T10:00:00Z')).toBe(Date.UTC(2026, 11, 5, 10) / 1000);
    expect(isoToEpoch('yesterday')).toBeNull();
  });

  it('merges the deleted files of all pairs, newest first, ties by path', () => {
    const merged = mergeDeleted([
      [d('a', '/x', '2026-12-01T00:00:00Z'), d('a', '/b', '2026-12-03T00:00:00Z')],
      [d('b', '/a', '2026-12-03T00:00:00Z'), d('b', '/z', '2026-11-30T00:00:00Z')],
    ]);
    expect(merged.map((m) => `${m.pair}${m.path}`)).toEqual(['b/a', 'a/b', 'a/x', 'b/z']);
  });

  it('keys files per pair and drops one that was brought back', () => {
    expect(fileKey('a', '/x')).not.toBe(fileKey('a/', 'x'));
    const list = [d('a', '/x', 't'), d('b', '/x', 't')];
    expect(without(list, 'a', '/x')).toEqual([d('b', '/x', 't')]);
  });
});
