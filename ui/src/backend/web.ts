// The browser transport: `POST /api/command` and Server-Sent Events on `/api/events`, both
// authorised by the session token the daemon printed (the page's `?token=`).
import type { EventDto } from '../bindings/EventDto';
import { type AnswerOf, type Backend, type Call, isApiError, toApiError } from './types';

/** What the web transport needs from its surroundings (injected so tests can fake them). */
export interface WebEnv {
  fetch: typeof fetch;
  /**
   * Opens an event stream (an EventSource) on a URL and passes on each message's data until
   * the returned function is called; absent where there is none (then no events arrive).
   */
  events?: (url: string, onData: (data: string) => void) => () => void;
  /** Opens a URL in a new browser tab/window. */
  open?: (url: string) => void;
  /** Asks for a line of text (the folder picker of the browser transport). */
  prompt?: (message: string, value: string) => string | null;
  /** Where the API lives (default: the page's origin). */
  base?: string;
}

export class WebBackend implements Backend {
  readonly kind = 'web' as const;
  private readonly base: string;

  constructor(
    private readonly token: string,
    private readonly env: WebEnv,
  ) {
    this.base = (env.base ?? '').replace(/\/$/, '');
  }

  async call<C extends Call>(cmd: C): Promise<AnswerOf<C>> {
    let res: Response;
    try {
      res = await this.env.fetch(`${this.base}/api/command`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Nuvosync-Token': this.token },
        body: JSON.stringify(cmd),
      });
    } catch {
      throw {
        code: 'no_daemon',
        message: 'nuvosync cannot be reached — check that it is still running, then reload this page.',
      };
    }
    if (res.status === 401) {
      throw {
        code: 'invalid_argument',
        message:
          'nuvosync refused this page’s session token — open the address nuvosync printed (it ends in ?token=…).',
      };
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw {
        code: 'internal',
        message: `nuvosync answered with something that is not JSON (HTTP ${res.status}) — reload the page; if it persists, restart nuvosync.`,
      };
    }
    if (typeof body === 'object' && body !== null) {
      const o = body as Record<string, unknown>;
      if ('ok' in o) return o.ok as AnswerOf<C>;
      if ('error' in o) throw isApiError(o.error) ? o.error : toApiError(o.error);
    }
    throw {
      code: 'internal',
      message: `nuvosync answered in an unexpected form (HTTP ${res.status}) — reload the page.`,
    };
  }

  subscribe(onEvent: (e: EventDto) => void): () => void {
    const open = this.env.events;
    if (!open) return () => {};
    return open(`${this.base}/api/events?token=${encodeURIComponent(this.token)}`, (data) => {
      let e: EventDto;
      try {
        e = JSON.parse(data) as EventDto;
      } catch {
        return; // a line we do not understand: ignore it
      }
      if (e && typeof e === 'object' && typeof e.type === 'string') onEvent(e);
    });
  }

  async openPath(path: string): Promise<void> {
    // A browser cannot open local folders; show the path so it can be copied.
    this.env.prompt?.('This folder is on this computer — copy its path:', path);
  }

  async openUrl(url: string): Promise<void> {
    this.env.open?.(url);
  }

  async openSignIn(url: string): Promise<void> {
    this.env.open?.(url);
  }

  onNavigate(_handler: (target: string) => void): () => void {
    return () => {}; // a browser tab has no tray menu to ask for views
  }

  async pickFolder(): Promise<string | null> {
    const p = this.env.prompt?.('The local folder to sync (full path):', '') ?? null;
    const t = p?.trim();
    return t ? t : null;
  }
}

/** The session token of this page (`?token=`), or empty. */
export function tokenFromLocation(search: string): string {
  return new URLSearchParams(search).get('token') ?? '';
}
