import { describe, expect, it } from 'vitest';
import type { TransferDto } from '../bindings/TransferDto';
import { actionDirection, applyEvent, baseName, dirName, fromList, sorted, totals, transferKey } from './transfers';

const t = (path: string, done: number, total = 100, pair = 'demo'): TransferDto => ({
  pair,
  path,
  direction: 'upload',
  done,
  total,
  bytes_per_sec: 10,
  eta_secs: (total - done) / 10,
});

describe('live transfers', () => {
  it('adds and updates transfers from progress events', () => {
    let m = fromList([]);
    m = applyEvent(m, { type: 'progress', transfer: t('/a', 10) });
    m = applyEvent(m, { type: 'progress', transfer: t('/b', 20) });
    m = applyEvent(m, { type: 'progress', transfer: t('/a', 50) });
    expect(sorted(m).map((x) => [x.path, x.done])).toEqual([
      ['/a', 50],
      ['/b', 20],
    ]);
  });
  it('drops a transfer when it completes or its file is synced or failed', () => {
    let m = fromList([t('/a', 10), t('/b', 10), t('/c', 10)]);
    m = applyEvent(m, { type: 'progress', transfer: t('/a', 100) });
    m = applyEvent(m, { type: 'synced', pair: 'demo', path: '/b', action: 'uploaded' });
    m = applyEvent(m, { type: 'file_error', pair: 'demo', path: '/c', message: 'x' });
    expect(m.size).toBe(0);
  });
  it('returns the same map when an event changes nothing', () => {
    const m = fromList([t('/a', 10)]);
    expect(applyEvent(m, { type: 'state', pair: 'demo', state: 'syncing' })).toBe(m);
    expect(applyEvent(m, { type: 'synced', pair: 'demo', path: '/other', action: 'uploaded' })).toBe(m);
  });
  it('keeps pairs apart', () => {
    const m = fromList([t('/a', 1, 100, 'one'), t('/a', 2, 100, 'two')]);
    expect(m.size).toBe(2);
    expect(transferKey({ pair: 'one', path: '/a' })).not.toBe(transferKey({ pair: 'two', path: '/a' }));
  });
  it('sums counts, bytes and speed', () => {
    expect(totals([t('/a', 10), t('/b', 30)])).toEqual({ count: 2, done: 40, total: 200, bytesPerSec: 20 });
    expect(totals([])).toEqual({ count: 0, done: 0, total: 0, bytesPerSec: 0 });
  });
});

describe('paths and actions', () => {
  it('splits paths', () => {
    expect(baseName('/a/b.txt')).toBe('b.txt');
    expect(baseName('/b.txt')).toBe('b.txt');
    expect(dirName('/a/b.txt')).toBe('/a');
    expect(dirName('/b.txt')).toBe('/');
  });
  it("reads the daemon's history actions as directions", () => {
    expect(actionDirection('uploaded')).toBe('up');
    expect(actionDirection('folder created on Dropbox')).toBe('up');
    expect(actionDirection('deleted on Dropbox')).toBe('up');
    expect(actionDirection('downloaded')).toBe('down');
    expect(actionDirection('deleted locally (moved to the trash)')).toBe('down');
    expect(actionDirection('folder created')).toBe('down');
    expect(actionDirection('renamed (name clash on Dropbox)')).toBe('other');
  });
});
