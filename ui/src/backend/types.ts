// The one interface every view talks to (docs/ARCHITECTURE.md, "Front ends"): the same UI runs in the Tauri
// tray app and in a plain browser against `nuvosync demo --ui` / the daemon's web transport.
import type { ApiError } from '../bindings/ApiError';
import type { Command } from '../bindings/Command';
import type { CommandAnswers } from '../bindings/CommandAnswers';
import type { ErrorCode } from '../bindings/ErrorCode';
import type { EventDto } from '../bindings/EventDto';

/** A command that answers once: every command but `subscribe` (that is {@link Backend.subscribe}). */
export type Call = Extract<Command, { cmd: keyof CommandAnswers }>;

/** What the command `C` answers (generated from the daemon's table of answers). */
export type AnswerOf<C extends Call> = CommandAnswers[C['cmd']];

export interface Backend {
  /** Which transport this is (shown in the footer, used by tests). */
  readonly kind: 'tauri' | 'web';
  /** Run one command; resolves with its answer, rejects with an {@link ApiError}. */
  call<C extends Call>(cmd: C): Promise<AnswerOf<C>>;
  /** Receive every event until the returned function is called. */
  subscribe(onEvent: (e: EventDto) => void): () => void;
  /** Open a local file or folder in the system's file manager / default app. */
  openPath(path: string): Promise<void>;
  /** Open a web address in the system browser. */
  openUrl(url: string): Promise<void>;
  /** Let the user choose a local folder; null when cancelled. */
  pickFolder(): Promise<string | null>;
  /**
   * Show Dropbox's consent page for linking: the app's own sign-in window in Tauri
   * (`open_link_window`, falling back to the browser), a new tab in a browser.
   */
  openSignIn(url: string): Promise<void>;
  /**
   * Be told when the shell asks the UI to show something (the tray menu's "Restore from a
   * snapshot…", "Link Dropbox…"): a view name or `restore`. A browser has no shell: never called.
   */
  onNavigate(handler: (target: string) => void): () => void;
}

const CODES: readonly ErrorCode[] = [
  'invalid_argument',
  'not_found',
  'already_exists',
  'not_linked',
  'auth',
  'offline',
  'dropbox',
  'paused',
  'index',
  'io',
  'no_daemon',
  'internal',
];

/** Is `e` an ApiError as the backend sends it (`{code, message}` with a known code)? */
export function isApiError(e: unknown): e is ApiError {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return typeof o.message === 'string' && typeof o.code === 'string' && CODES.includes(o.code as ErrorCode);
}

/** Turn anything a transport threw into an ApiError, keeping ApiErrors as they are. */
export function toApiError(e: unknown, fallback: ErrorCode = 'internal'): ApiError {
  if (isApiError(e)) return { code: e.code, message: e.message };
  if (typeof e === 'string' && e.length > 0) return { code: fallback, message: e };
  if (e instanceof Error) return { code: fallback, message: e.message };
  return { code: fallback, message: 'Something went wrong, and nuvosync gave no details.' };
}

/** The text to show for any error a call rejected with. */
export function errorText(e: unknown): string {
  return toApiError(e).message;
}
