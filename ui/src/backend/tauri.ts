// The tray-app transport: Tauri commands and events. The Rust side's `command` returns the
// value or rejects with an ApiError; `open_path`, `open_url` and `pick_folder` are the shell's.
import type { Command } from '../bindings/Command';
import type { EventDto } from '../bindings/EventDto';
import { type Backend, toApiError } from './types';

/** The part of `@tauri-apps/api` this transport uses (injected so tests can fake it). */
export interface TauriApi {
  invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  listen<T>(event: string, handler: (e: { payload: T }) => void): Promise<() => void>;
}

export const EVENT_NAME = 'nuvosync://event';

export class TauriBackend implements Backend {
  readonly kind = 'tauri' as const;

  constructor(private readonly api: TauriApi) {}

  async call<T>(cmd: Command): Promise<T> {
    try {
      return await this.api.invoke<T>('command', { cmd });
    } catch (e) {
      throw toApiError(e);
    }
  }

  subscribe(onEvent: (e: EventDto) => void): () => void {
    let unlisten: (() => void) | null = null;
    let closed = false;
    void this.api
      .listen<EventDto>(EVENT_NAME, (e) => onEvent(e.payload))
      .then((u) => {
        if (closed) u();
        else unlisten = u;
      });
    return () => {
      closed = true;
      unlisten?.();
    };
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
