import { describe, expect, it } from 'vitest';
import {
  formatAgo,
  formatBytes,
  formatDateTime,
  formatDuration,
  formatEta,
  formatIso,
  formatSpeed,
  kbpsToLimit,
  limitToKbps,
  percent,
  plural,
} from './format';

/** Seconds since the epoch of a local wall-clock time (so tests pass in any time zone). */
const local = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => new Date(y, mo - 1, d, h, mi, s).getTime() / 1000;

describe('formatBytes', () => {
  it('counts small sizes in bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1)).toBe('1 B');
    expect(formatBytes(1023)).toBe('1023 B');
  });
  it('uses binary units with one decimal below ten', () => {
    expect(formatBytes(1024)).toBe('1.0 KB');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(10 * 1024)).toBe('10 KB');
    expect(formatBytes(5 * 1024 * 1024 + 300 * 1024)).toBe('5.3 MB');
    expect(formatBytes(2 * 1024 ** 4)).toBe('2.0 TB');
  });
  it('never shows 1024 of a unit or 10.0', () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe('1.0 MB');
    expect(formatBytes(9.97 * 1024)).toBe('10 KB');
  });
  it('says — for nonsense', () => {
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
    expect(formatBytes(null)).toBe('—');
  });
});

describe('speed, duration and ETA', () => {
  it('formats speeds and hides unknown ones', () => {
    expect(formatSpeed(2.5 * 1024 * 1024)).toBe('2.5 MB/s');
    expect(formatSpeed(0)).toBe('—');
    expect(formatSpeed(Number.POSITIVE_INFINITY)).toBe('—');
  });
  it('formats durations in the two largest units', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(4.2)).toBe('5 s');
    expect(formatDuration(60)).toBe('1 min');
    expect(formatDuration(65)).toBe('1 min 5 s');
    expect(formatDuration(2 * 3600 + 3 * 60 + 59)).toBe('2 h 3 min'); // truncated, like a clock
    expect(formatDuration(3 * 86400 + 4 * 3600)).toBe('3 d 4 h');
    expect(formatDuration(null)).toBe('—');
  });
  it('says how long is left, or nothing when unknown', () => {
    expect(formatEta(null)).toBe('');
    expect(formatEta(0.4)).toBe('almost done');
    expect(formatEta(90)).toBe('1 min 30 s left');
  });
  it('computes whole percentages within 0..100', () => {
    expect(percent(0, 10)).toBe(0);
    expect(percent(5, 10)).toBe(50);
    expect(percent(999, 1000)).toBe(99); // never rounds up to 100 before the end
    expect(percent(12, 10)).toBe(100);
    expect(percent(0, 0)).toBe(100);
  });
});

describe('times', () => {
  it('formats a local date and time', () => {
    expect(formatDateTime(local(2026, 1, 2, 3, 4, 5))).toBe('2026-01-02 03:04');
    expect(formatDateTime(local(2026, 1, 2, 3, 4, 5), true)).toBe('2026-01-02 03:04:05');
  });
  it('says how long ago, coarser as it gets older', () => {
    const now = local(2026, 11, 27, 15, 0);
    expect(formatAgo(null, now)).toBe('never');
    expect(formatAgo(now - 10, now)).toBe('just now');
    expect(formatAgo(now - 5 * 60, now)).toBe('5 min ago');
    expect(formatAgo(now - 3 * 3600, now)).toBe('3 h ago');
    expect(formatAgo(local(2026, 11, 27, 8, 5), now)).toBe('today 08:05');
    expect(formatAgo(local(2026, 11, 26, 14, 5), now)).toBe('yesterday 14:05');
    expect(formatAgo(local(2026, 11, 20, 9, 30), now)).toBe('2026-11-20 09:30');
    expect(formatAgo(now + 3600, now)).toBe(formatDateTime(now + 3600));
  });
  it('reads Dropbox ISO times and keeps unparsable text', () => {
    const t = Date.UTC(2026, 10, 27, 10, 0) / 1000;
    expect(formatIso('2026-11-27T10:00:00Z')).toBe(formatDateTime(t));
    expect(formatIso('soon')).toBe('soon');
  });
});

describe('small helpers', () => {
  it('pluralises', () => {
    expect(plural(1, 'file')).toBe('1 file');
    expect(plural(2, 'file')).toBe('2 files');
    expect(plural(1200, 'change')).toBe('1,200 changes');
  });
  it('converts bandwidth limits between bytes/s and KB/s', () => {
    expect(limitToKbps(0)).toBe(0);
    expect(limitToKbps(512 * 1024)).toBe(512);
    expect(kbpsToLimit('512')).toBe(512 * 1024);
    expect(kbpsToLimit('')).toBe(0);
    expect(kbpsToLimit('-3')).toBe(0);
    expect(kbpsToLimit('abc')).toBe(0);
  });
});
