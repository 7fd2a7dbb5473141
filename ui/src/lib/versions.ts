// Version history and recently deleted files: pure helpers for the Activity view.
import type { DeletedDto } from '../bindings/DeletedDto';

/** Seconds since the epoch of a Dropbox timestamp (`2026-12-05T10:00:00Z`); null if malformed. */
export function isoToEpoch(iso: string): number | null {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/** Deleted files of several pairs as one list, newest deletion first, then by path. */
export function mergeDeleted(lists: DeletedDto[][]): DeletedDto[] {
  return lists
    .flat()
    .slice()
    .sort((a, b) => (a.deleted_at === b.deleted_at ? a.path.localeCompare(b.path) : a.deleted_at < b.deleted_at ? 1 : -1));
}

/** The key of one file across pairs. */
export function fileKey(pair: string, path: string): string {
  return `${pair}\u0000${path}`;
}

/** A list without one file (after it was brought back). */
export function without(list: DeletedDto[], pair: string, path: string): DeletedDto[] {
  return list.filter((d) => !(d.pair === pair && d.path === path));
}
