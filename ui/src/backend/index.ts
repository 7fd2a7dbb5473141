// Picks the transport at start: Tauri inside the tray app, the web transport elsewhere.
import { TauriBackend } from './tauri';
import { WebBackend, tokenFromLocation } from './web';
import type { Backend } from './types';

export type { AnswerOf, Backend, Call } from './types';
export { errorText, isApiError, toApiError } from './types';

/** Which transport a window calls for. */
export function backendKind(win: object): 'tauri' | 'web' {
  return '__TAURI_INTERNALS__' in win && (win as Record<string, unknown>).__TAURI_INTERNALS__ != null
    ? 'tauri'
    : 'web';
}

/** The backend for this window. */
export async function createBackend(win: Window & typeof globalThis = window): Promise<Backend> {
  if (backendKind(win) === 'tauri') {
    // Loaded only inside the app, so the browser build does not pay for it at start.
    const [core, event] = await Promise.all([import('@tauri-apps/api/core'), import('@tauri-apps/api/event')]);
    return new TauriBackend({
      invoke: (cmd, args) => core.invoke(cmd, args),
      listen: (name, handler) => event.listen(name, handler),
    });
  }
  return new WebBackend(tokenFromLocation(win.location.search), {
    fetch: win.fetch.bind(win),
    events: (url, onData) => {
      // EventSource reconnects by itself when the daemon restarts or the network blips.
      const es = new win.EventSource(url);
      es.onmessage = (m: MessageEvent<string>) => onData(m.data);
      return () => es.close();
    },
    open: (url) => {
      win.open(url, '_blank', 'noopener');
    },
    prompt: (message, value) => win.prompt(message, value),
  });
}
