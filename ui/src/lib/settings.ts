// Settings as a form: a draft copied from `settings_get`, and the smallest `SettingsPatch`
// that turns the saved settings into the draft (absent fields stay as they are).
import type { PairPatch } from '../bindings/PairPatch';
import type { PairSettingsDto } from '../bindings/PairSettingsDto';
import type { SettingsDto } from '../bindings/SettingsDto';
import type { SettingsPatch } from '../bindings/SettingsPatch';

/** A deep copy to edit. */
export function draftOf(s: SettingsDto): SettingsDto {
  return structuredClone(s);
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The change to one pair, or null when nothing changed. */
export function pairPatch(before: PairSettingsDto, after: PairSettingsDto): PairPatch | null {
  const p: PairPatch = {
    name: before.name,
    watch: null,
    rescan_interval_secs: null,
    excluded: null,
    ignore_patterns: null,
  };
  let changed = false;
  if (after.watch !== before.watch) {
    p.watch = after.watch;
    changed = true;
  }
  if (after.rescan_interval_secs !== before.rescan_interval_secs) {
    p.rescan_interval_secs = after.rescan_interval_secs;
    changed = true;
  }
  const ex = normaliseExcluded(after.excluded);
  if (!sameList(ex, normaliseExcluded(before.excluded))) {
    p.excluded = ex;
    changed = true;
  }
  if (after.ignore_patterns !== before.ignore_patterns) {
    p.ignore_patterns = after.ignore_patterns;
    changed = true;
  }
  return changed ? p : null;
}

/** The patch from `before` to `after`, or null when they are the same. Pairs match by name. */
export function settingsPatch(before: SettingsDto, after: SettingsDto): SettingsPatch | null {
  const patch: SettingsPatch = {
    notifications: null,
    snooze_minutes: null,
    upload_limit: null,
    download_limit: null,
    autostart: null,
    mass_delete_percent: null,
    mass_delete_min_files: null,
    pairs: [],
  };
  let changed = false;
  if (after.notifications !== before.notifications) {
    patch.notifications = after.notifications;
    changed = true;
  }
  if (after.upload_limit !== before.upload_limit) {
    patch.upload_limit = after.upload_limit;
    changed = true;
  }
  if (after.download_limit !== before.download_limit) {
    patch.download_limit = after.download_limit;
    changed = true;
  }
  if (after.autostart !== before.autostart) {
    patch.autostart = after.autostart;
    changed = true;
  }
  if (after.mass_delete_percent !== before.mass_delete_percent) {
    patch.mass_delete_percent = after.mass_delete_percent;
    changed = true;
  }
  if (after.mass_delete_min_files !== before.mass_delete_min_files) {
    patch.mass_delete_min_files = after.mass_delete_min_files;
    changed = true;
  }
  if (after.export_documents !== undefined && after.export_documents !== before.export_documents) {
    patch.export_documents = after.export_documents;
    changed = true;
  }
  for (const a of after.pairs) {
    const b = before.pairs.find((p) => p.name === a.name);
    if (!b) continue; // added pairs go through add_pair, not here
    const pp = pairPatch(b, a);
    if (pp) {
      patch.pairs.push(pp);
      changed = true;
    }
  }
  return changed ? patch : null;
}

/** A patch that only snoozes notifications (0 ends a snooze). */
export function snoozePatch(minutes: number): SettingsPatch {
  return {
    notifications: null,
    snooze_minutes: Math.max(0, Math.round(minutes)),
    upload_limit: null,
    download_limit: null,
    autostart: null,
    mass_delete_percent: null,
    mass_delete_min_files: null,
    pairs: [],
  };
}

/**
 * A folder as the daemon stores exclusions: relative to the pair's root, with one leading
 * slash and none trailing ("docs/old/" → "/docs/old"); "" for nothing usable.
 */
export function normaliseFolder(path: string): string {
  const parts = path
    .trim()
    .replace(/\\/g, '/')
    .split('/')
    .filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return '';
  return parts.length ? `/${parts.join('/')}` : '';
}

/** Normalised, without duplicates (case-insensitive, as Dropbox paths are), in the given order. */
export function normaliseExcluded(list: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of list) {
    const f = normaliseFolder(raw);
    if (!f || seen.has(f.toLowerCase())) continue;
    seen.add(f.toLowerCase());
    out.push(f);
  }
  return out;
}

/**
 * Whether `path` (a folder of the pair, `/data/raw`) is excluded: it, or a folder above it, is
 * in `excluded`. Dropbox paths are case-insensitive, so is this.
 */
export function isExcluded(excluded: string[], path: string): boolean {
  const p = `/${path.replace(/^\/+|\/+$/g, '')}`.toLowerCase();
  return excluded.some((raw) => {
    const e = `/${raw.replace(/^\/+|\/+$/g, '')}`.toLowerCase();
    return p === e || p.startsWith(`${e}/`);
  });
}

/** Why a rescan interval cannot be used, or null when it can. */
export function rescanProblem(v: unknown): string | null {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || !Number.isInteger(n)) return 'Enter a whole number of seconds.';
  if (n < 1) return 'The rescan interval must be at least 1 second.';
  if (n > 7 * 24 * 3600) return 'At most one week (604800 seconds).';
  return null;
}

/** What is wrong with the mass-delete guard's fields, or null. */
export function guardProblem(percent: unknown, minFiles: unknown): string | null {
  const whole = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  if (!whole(percent) || (percent as number) < 0 || (percent as number) > 100) return 'The share is a whole percentage from 0 to 100.';
  if (!whole(minFiles) || (minFiles as number) < 0) return 'The number of files is a whole number, 0 or more.';
  return null;
}

/** Problems with a new pair's fields, by field; empty when it can be added. */
export function newPairProblems(p: { local: string; organization: string; space: string; instance: string }): Record<string, string> {
  const out: Record<string, string> = {};
  if (!p.local.trim()) out.local = 'Choose the local folder.';
  else if (!p.local.trim().startsWith('/') && !/^[A-Za-z]:[\\/]/.test(p.local.trim())) out.local = 'Give the full path of the folder.';
  for (const k of ['organization', 'space', 'instance'] as const) {
    const v = p[k].trim();
    if (!v) out[k] = `Enter the ${k} name.`;
    else if (v.includes('/')) out[k] = `The ${k} name cannot contain “/”.`;
  }
  return out;
}

/** Snooze choices for the settings view, in minutes. */
export const SNOOZE_CHOICES: { minutes: number; label: string }[] = [
  { minutes: 60, label: 'for 1 hour' },
  { minutes: 4 * 60, label: 'for 4 hours' },
  { minutes: 24 * 60, label: 'for 1 day' },
];
