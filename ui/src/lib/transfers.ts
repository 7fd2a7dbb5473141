// The live transfer list: seeded from the `activity` / `status` answers, kept current by
// Progress events, and emptied of finished transfers by Synced events.
import type { EventDto } from '../bindings/EventDto';
import type { TransferDto } from '../bindings/TransferDto';

export type TransferMap = Map<string, TransferDto>;

export const transferKey = (t: { pair: string; path: string }) => `${t.pair}\u0000${t.path}`;

/** A map from a list (the answer of `activity` or `status`). */
export function fromList(list: TransferDto[]): TransferMap {
  return new Map(list.map((t) => [transferKey(t), t]));
}

/**
 * The transfers after an event; returns the same map when nothing changed, so callers can
 * skip re-rendering. A transfer that reached its total is dropped (the daemon does the same).
 */
export function applyEvent(map: TransferMap, e: EventDto): TransferMap {
  if (e.type === 'progress') {
    const t = e.transfer;
    const next = new Map(map);
    if (t.total > 0 && t.done >= t.total) next.delete(transferKey(t));
    else next.set(transferKey(t), t);
    return next;
  }
  if (e.type === 'synced' || e.type === 'file_error') {
    const k = transferKey(e);
    if (!map.has(k)) return map;
    const next = new Map(map);
    next.delete(k);
    return next;
  }
  return map;
}

/** In a stable order (by pair, then path), so rows do not jump around as bytes arrive. */
export function sorted(map: TransferMap): TransferDto[] {
  return [...map.values()].sort((a, b) => (a.pair === b.pair ? a.path.localeCompare(b.path) : a.pair.localeCompare(b.pair)));
}

/** Totals for a summary line: count, bytes done and in all, and the combined speed. */
export function totals(list: TransferDto[]): { count: number; done: number; total: number; bytesPerSec: number } {
  return list.reduce(
    (a, t) => ({
      count: a.count + 1,
      done: a.done + t.done,
      total: a.total + t.total,
      bytesPerSec: a.bytesPerSec + (Number.isFinite(t.bytes_per_sec) ? t.bytes_per_sec : 0),
    }),
    { count: 0, done: 0, total: 0, bytesPerSec: 0 },
  );
}

/** The file name of a relative path ("/a/b.txt" → "b.txt"). */
export function baseName(path: string): string {
  const p = path.replace(/\/+$/, '');
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/** The folder of a relative path ("/a/b.txt" → "/a", "/b.txt" → "/"). */
export function dirName(path: string): string {
  const p = path.replace(/\/+$/, '');
  const i = p.lastIndexOf('/');
  return i > 0 ? p.slice(0, i) : '/';
}

/**
 * Which way a history entry went, for its arrow: `up` = this computer → Dropbox, `down` =
 * Dropbox → this computer. The daemon's actions are plain English ("uploaded",
 * "deleted locally (moved to the trash)", "folder created on Dropbox"…); unknown ones get no arrow.
 */
export function actionDirection(action: string): 'up' | 'down' | 'other' {
  const a = action.toLowerCase();
  if (a.startsWith('renamed') || a.includes('conflict')) return 'other';
  if (a.startsWith('upload') || a.includes('on dropbox')) return 'up';
  if (a.startsWith('download') || a.includes('locally') || a === 'folder created') return 'down';
  return 'other';
}
