// A pair's state as people see it: a label, a colour, an icon, and — when the user has to
// decide something — what happened and what to do. Branches on codes, never on messages.
import type { PairStatusDto } from '../bindings/PairStatusDto';
import type { PairState } from '../bindings/PairState';

export interface StateLook {
  /** Short label ("Up to date"). */
  label: string;
  /** The CSS colour token (`--state-ok` …), so light and dark themes can differ. */
  tone: 'ok' | 'busy' | 'idle' | 'warn' | 'attention' | 'error';
  /** The icon's name (see StateIcon.svelte). */
  icon: 'check' | 'sync' | 'pause' | 'offline' | 'attention' | 'error';
}

const LOOKS: Record<PairState, StateLook> = {
  up_to_date: { label: 'Up to date', tone: 'ok', icon: 'check' },
  syncing: { label: 'Syncing', tone: 'busy', icon: 'sync' },
  paused: { label: 'Paused', tone: 'idle', icon: 'pause' },
  offline: { label: 'Offline', tone: 'warn', icon: 'offline' },
  attention: { label: 'Needs your attention', tone: 'attention', icon: 'attention' },
  error: { label: 'Error', tone: 'error', icon: 'error' },
};

export function stateLook(s: PairState): StateLook {
  return LOOKS[s] ?? LOOKS.error;
}

/** What the status view offers for a pair's guard code. */
export type Guidance =
  | { kind: 'confirm_deletes'; title: string; explain: string }
  | { kind: 'restore'; title: string; explain: string }
  | { kind: 'relink'; title: string; explain: string }
  | { kind: 'info'; title: string; explain: string }
  | null;

/** The decision a pair waits for, if any. */
export function guidance(p: Pick<PairStatusDto, 'code' | 'state' | 'conflicts'>): Guidance {
  switch (p.code) {
    case 'mass_delete':
      return {
        kind: 'confirm_deletes',
        title: 'Many files were deleted at once',
        explain:
          'Sync is paused because one side deleted a large share of the files. If you meant to delete them, confirm the deletions and they will be deleted on the other side too. If not, restore them first (from the trash or Dropbox), then resume. How many deletions count as “many” is set in Settings → Deletion safety.',
      };
    case 'empty_remote':
      return {
        kind: 'confirm_deletes',
        title: 'The Dropbox folder is empty',
        explain:
          'Dropbox lists no files for this folder, although files were synced before. Sync is paused so your local files are not deleted. If the Dropbox folder really was emptied on purpose, confirm the deletions; otherwise restore the files on dropbox.com first, then resume.',
      };
    case 'restore_detected':
      return {
        kind: 'restore',
        title: 'This folder was restored from a snapshot',
        explain:
          'The local folder is older than what was synced last — it looks restored from a backup or snapshot. Sync is paused so Dropbox’s newer copies do not overwrite the restored files. The restore wizard shows what will happen before anything changes.',
      };
    case 'missing_root':
      return {
        kind: 'info',
        title: 'The local folder is missing',
        explain:
          'The folder is not there (an unmounted drive?). Nothing is deleted on Dropbox. Mount or restore the folder and sync continues by itself.',
      };
    case 'not_linked':
    case 'auth':
      return {
        kind: 'relink',
        title: p.code === 'auth' ? 'Dropbox refused the link' : 'No Dropbox account is linked',
        explain:
          p.code === 'auth'
            ? 'The link to Dropbox was revoked or expired. Link your account again to continue.'
            : 'Link your Dropbox account to start syncing.',
      };
    default:
      return null;
  }
}

/** Is this pair paused by a guard (as opposed to by the user)? */
export function pausedByGuard(p: Pick<PairStatusDto, 'code'>): boolean {
  return p.code === 'mass_delete' || p.code === 'empty_remote' || p.code === 'restore_detected' || p.code === 'missing_root';
}

/** "Demo Org › Demo Space › Demo Instance". */
export function breadcrumb(p: { organization: string; space: string; instance: string }): string {
  return [p.organization, p.space, p.instance].join(' › ');
}
