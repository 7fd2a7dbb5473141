// The restore wizard's view of a plan: groups with counts, sizes and sorted entries, and the
// steps the wizard walks through.
import type { RestoreItemDto } from '../bindings/RestoreItemDto';
import type { RestorePlanDto } from '../bindings/RestorePlanDto';
import { formatBytes, plural } from './format';

export interface PlanGroup {
  key: 'replaced' | 'removed' | 'uploaded' | 'not_synced' | 'overwritten_here' | 'deleted_here' | 'conflicts';
  title: string;
  explain: string;
  items: RestoreItemDto[];
  /** Sum of known sizes (bytes, or files for `continue` deletions). */
  size: number;
  /** "3 files, 12 KB". */
  summary: string;
}

/** The groups of a restore preview (`restore_plan`), non-empty ones first, entries by path. */
export function restoreGroups(plan: RestorePlanDto): PlanGroup[] {
  const backupName = plan.backup_folder.split('/').pop() ?? plan.backup_folder;
  return orderGroups([
    group('replaced', 'Replaced on Dropbox', `Dropbox has a different version; the restored version replaces it (Dropbox’s stays in “${backupName}”).`, plan.replaced, 'bytes'),
    group('removed', 'Kept only in the backup', `These exist only on Dropbox; they stay in “${backupName}” — nothing is deleted.`, plan.removed, 'bytes'),
    group('uploaded', 'Uploaded', 'Restored files Dropbox does not have yet.', plan.uploaded, 'bytes'),
    ...(plan.not_synced.length > 0
      ? [group('not_synced', 'Left where they are', 'Not synced to this computer (excluded folders, ignored files): they stay in the instance folder on Dropbox.', plan.not_synced, 'entries')]
      : []),
  ]);
}

/**
 * The groups of "this was not a restore" (`restore_continue_preview`): what normal sync would
 * do on both sides. Its `removed` and `deleted_here` entries carry a file count in `size` (a
 * deleted folder counts the files inside), not bytes.
 */
export function continueGroups(plan: RestorePlanDto): PlanGroup[] {
  return orderGroups([
    group('replaced', 'Overwritten on Dropbox', 'Dropbox’s newer versions are replaced by the older local ones (earlier versions stay in Dropbox’s file history).', plan.replaced, 'bytes'),
    group('removed', 'Deleted on Dropbox', 'Missing locally, so normal sync deletes them on Dropbox too (Dropbox keeps deleted files for a while).', plan.removed, 'files'),
    group('overwritten_here', 'Overwritten on this computer', 'Dropbox has newer versions; they replace the local files.', plan.overwritten_here, 'bytes'),
    group('deleted_here', 'Deleted on this computer', 'Deleted on Dropbox, so normal sync moves them to the trash here.', plan.deleted_here, 'files'),
    group('conflicts', 'Changed on both sides', 'Both versions are kept: the local one as a “conflicted copy” next to Dropbox’s.', plan.conflicts, 'bytes'),
    group('uploaded', 'Uploaded', 'Local files Dropbox does not have yet.', plan.uploaded, 'bytes'),
  ]);
}

function group(key: PlanGroup['key'], title: string, explain: string, items: RestoreItemDto[], unit: 'bytes' | 'files' | 'entries'): PlanGroup {
  const sortedItems = [...items].sort((a, b) => a.path.localeCompare(b.path));
  const size = items.reduce((s, i) => s + (i.size ?? 0), 0);
  const count = unit === 'files' ? items.reduce((s, i) => s + Math.max(1, i.size ?? 1), 0) : items.length;
  const summary =
    items.length === 0
      ? 'none'
      : unit === 'files'
        ? plural(count, 'file')
        : unit === 'entries'
          ? plural(count, 'file or folder', 'files or folders')
          : `${plural(items.length, 'file')}, ${formatBytes(size)}`;
  return { key, title, explain, items: sortedItems, size, summary };
}

function orderGroups(groups: PlanGroup[]): PlanGroup[] {
  // Stable: keep the fixed order among non-empty groups; empty ones last.
  return [...groups.filter((g) => g.items.length > 0), ...groups.filter((g) => g.items.length === 0)];
}

/** Does continuing normally overwrite or delete anything, on either side, that a person should confirm? */
export function continueIsDestructive(plan: RestorePlanDto): boolean {
  return [plan.replaced, plan.removed, plan.overwritten_here, plan.deleted_here, plan.conflicts].some((g) => g.length > 0);
}

/** The last component of the backup folder, as it appears on Dropbox. */
export function backupName(path: string): string {
  return path.split('/').filter(Boolean).pop() ?? path;
}

/** The wizard's steps, in order, per path. */
export type WizardStep =
  | 'explain'
  | 'preview'
  | 'confirm'
  | 'progress'
  | 'result'
  | 'continue_preview'
  | 'continue_done';

export const RESTORE_STEPS: WizardStep[] = ['explain', 'preview', 'confirm', 'progress', 'result'];
export const CONTINUE_STEPS: WizardStep[] = ['explain', 'continue_preview', 'continue_done'];

/** "Step 2 of 5" for the wizard header. */
export function stepLabel(step: WizardStep): string {
  const path = RESTORE_STEPS.includes(step) ? RESTORE_STEPS : CONTINUE_STEPS;
  return `Step ${path.indexOf(step) + 1} of ${path.length}`;
}
