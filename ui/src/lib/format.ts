// Numbers, sizes, speeds and times as people read them. Pure functions: the clock is an argument.

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** Bytes in binary units, as Dropbox shows them: "0 B", "999 B", "1.5 KB", "12 MB", "2 TB". */
export function formatBytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${Math.round(n)} B`;
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // One decimal below 10 ("1.5 KB"), none above ("12 MB"); never "10.0" or "1024 KB".
  let text = v < 9.95 ? v.toFixed(1) : Math.round(v).toString();
  if (text === '1024' && u < UNITS.length - 1) {
    text = '1.0'; // 1023.7 KB reads better as 1.0 MB
    u++;
  }
  return `${text} ${UNITS[u]}`;
}

/** A transfer speed: "1.5 MB/s"; "—" when unknown or zero. */
export function formatSpeed(bytesPerSec: number | null | undefined): string {
  if (bytesPerSec == null || !Number.isFinite(bytesPerSec) || bytesPerSec <= 0) return '—';
  return `${formatBytes(bytesPerSec)}/s`;
}

/** A duration in seconds: "4 s", "1 min 5 s", "2 h 3 min", "3 d 4 h"; "—" when unknown. */
export function formatDuration(secs: number | null | undefined): string {
  if (secs == null || !Number.isFinite(secs) || secs < 0) return '—';
  const s = Math.ceil(secs);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) {
    const r = s % 60;
    return r ? `${m} min ${r} s` : `${m} min`;
  }
  const h = Math.floor(m / 60);
  if (h < 24) {
    const r = m % 60;
    return r ? `${h} h ${r} min` : `${h} h`;
  }
  const d = Math.floor(h / 24);
  const r = h % 24;
  return r ? `${d} d ${r} h` : `${d} d`;
}

/** Time left for a transfer: "about 1 min 5 s left", or "" when unknown. */
export function formatEta(secs: number | null | undefined): string {
  if (secs == null || !Number.isFinite(secs) || secs < 0) return '';
  if (secs < 1) return 'almost done';
  return `${formatDuration(secs)} left`;
}

/** Share done as a whole percentage 0..100 (100 for empty transfers). */
export function percent(done: number, total: number): number {
  if (!(total > 0)) return 100;
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
}

const pad = (n: number) => n.toString().padStart(2, '0');

/** "2026-11-27 14:05" (or "…14:05:09" with seconds) in local time, from seconds since the epoch. */
export function formatDateTime(epochSecs: number, seconds = false): string {
  const d = new Date(epochSecs * 1000);
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return seconds ? `${base}:${pad(d.getSeconds())}` : base;
}

/** Relative time: "just now", "5 min ago", "3 h ago", "yesterday 14:05", else the date. */
export function formatAgo(epochSecs: number | null | undefined, nowSecs: number): string {
  if (epochSecs == null) return 'never';
  const diff = nowSecs - epochSecs;
  if (diff < -60) return formatDateTime(epochSecs); // in the future: a clock skew, say it plainly
  if (diff < 45) return 'just now';
  if (diff < 3600) return `${Math.max(1, Math.round(diff / 60))} min ago`;
  if (diff < 6 * 3600) return `${Math.floor(diff / 3600)} h ago`;
  const then = new Date(epochSecs * 1000);
  const now = new Date(nowSecs * 1000);
  const sameDay = (a: Date, b: Date) =>
    a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  const hm = `${pad(then.getHours())}:${pad(then.getMinutes())}`;
  if (sameDay(then, now)) return `today ${hm}`;
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(then, yesterday)) return `yesterday ${hm}`;
  return formatDateTime(epochSecs);
}

/** Dropbox's ISO times ("2026-11-27T10:00:00Z") as local "2026-11-27 11:00"; the text itself if unparsable. */
export function formatIso(iso: string, seconds = false): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : formatDateTime(t / 1000, seconds);
}

/** "1 file", "3 files". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** Bytes per second as whole KB/s for an input (0 = no limit). */
export function limitToKbps(bytesPerSec: number): number {
  return Math.round(bytesPerSec / 1024);
}

/** KB/s from an input back to bytes per second; empty, negative or invalid → 0 (no limit). */
export function kbpsToLimit(kbps: number | string | null | undefined): number {
  const n = typeof kbps === 'string' ? Number(kbps.trim()) : kbps;
  if (n == null || !Number.isFinite(n) || n <= 0) return 0;
  return Math.round(n) * 1024;
}
