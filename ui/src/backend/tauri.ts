// The tray-app transport: Tauri commands and events. The Rust side's `command` returns the
// value or rejects with an ApiError; `open_path`, `open_url` and `pick_folder` are the shell's.
import type { EventDto } from '../bindings/EventDto';
import { type AnswerOf, type Backend, type Call, toApiError } from './types';

/** The part of `@tauri-apps/api` this transport uses (injected so tests can fake it). */
export interface TauriApi {
  invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  listen<T>(event: string, handler: (e: { payload: T }) => void): Promise<() => void>;
}

export const EVENT_NAME = 'nuvosync://event';
/** The shell asks the UI to show a view (payload: a view name or `restore`). */
export const NAVIGATE_EVENT = 'nuvosync://navigate';

export class TauriBackend implements Backend {
  readonly kind = 'tauri' as const;

  constructor(private readonly api: TauriApi) {}

  async call<C extends Call>(cmd: C): Promise<AnswerOf<C>> {
    try {
      return await this.api.invoke<AnswerOf<C>>('command', { cmd });
    } catch (e) {
      throw toApiError(e);
    }
  }

  subscribe(onEvent: (e: EventDto) => void): () => void {
    return this.listenTo<EventDto>(EVENT_NAME, onEvent);
  }

  onNavigate(handler: (target: string) => void): () => void {
    return this.listenTo<string>(NAVIGATE_EVENT, (t) => {
      if (typeof t === 'string') handler(t);
    });
  }

  /** Listen to a Tauri event until the returned function is called (even before `listen` resolved). */
  private listenTo<T>(name: string, on: (payload: T) => void): () => void {
    let unlisten: (() => void) | null = null;
    let closed = false;
    void this.api
      .listen<T>(name, (e) => on(e.payload))
      .then((u) => {
        if (closed) u();
        else unlisten = u;
      });
    return () => {
      closed = true;
      unlisten?.();
    };
  }

  async openSignIn(url: string): Promise<void> {
    try {
      await this.api.invoke('open_link_window', { url });
    } catch {
      // An older shell without its own sign-in window: the system browser works as well
      // (the loopback redirect finishes the link either way).
      await this.openUrl(url);
    }
  }

  async openPath(path: string): Promise<void> {
    try {
      await this.api.invoke('open_path', { path });
    } catch (e) {
      throw toApiError(e, 'io');
    }
  }

  async openUrl(url: string): Promise<void> {
    try {
      await this.api.invoke('open_url', { url });
    } catch (e) {
      throw toApiError(e, 'io');
    }
  }

  async pickFolder(): Promise<string | null> {
    try {
      return (await this.api.invoke<string | null>('pick_folder')) ?? null;
    } catch (e) {
      throw toApiError(e, 'io');
    }
  }
}
