// The application's shared state: the backend, the latest status and account, the live
// transfers, the current view, and the restore wizard. Views read it and call `backend`.
import type { AccountDto } from './bindings/AccountDto';
import type { EventDto } from './bindings/EventDto';
import type { StatusDto } from './bindings/StatusDto';
import { type Backend, errorText } from './backend';
import { applyEvent, fromList, type TransferMap } from './lib/transfers';

export const VIEWS = ['status', 'activity', 'conflicts', 'settings', 'link'] as const;
export type View = (typeof VIEWS)[number];

/** The view named by a location hash ("#/settings" → "settings"). */
export function viewFromHash(hash: string): View {
  const v = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return (VIEWS as readonly string[]).includes(v) ? (v as View) : 'status';
}

export class AppState {
  status = $state.raw<StatusDto | null>(null);
  /** Why the status cannot be shown (the daemon is unreachable…). */
  statusError = $state<string | null>(null);
  account = $state.raw<AccountDto | null>(null);
  transfers = $state.raw<TransferMap>(new Map());
  view = $state<View>('status');
  /** The restore wizard, when open: for which pair (null = let the user choose). */
  wizard = $state.raw<{ pair: string | null } | null>(null);
  /** A short confirmation for the live region ("Settings saved"). */
  notice = $state<string>('');
  /** Seconds since the epoch, ticking, for "5 min ago". */
  now = $state(Math.floor(Date.now() / 1000));
  /** The event stream delivered something (the web transport reconnects by itself). */
  live = $state(false);

  private listeners = new Set<(e: EventDto) => void>();
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private stops: (() => void)[] = [];
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(readonly backend: Backend) {}

  /** Start listening and polling; returns the function that stops it. */
  start(): () => void {
    this.stops.push(this.backend.subscribe((e) => this.onEvent(e)));
    const poll = setInterval(() => void this.refreshStatus(), 5000);
    const tick = setInterval(() => (this.now = Math.floor(Date.now() / 1000)), 15000);
    this.stops.push(() => clearInterval(poll), () => clearInterval(tick));
    void this.refreshStatus().then(() => {
      if (this.status?.linked) void this.refreshAccount();
    });
    return () => this.stop();
  }

  stop(): void {
    for (const s of this.stops.splice(0)) s();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
  }

  /** Be told about every event (views use it to refresh what they show). */
  onEvents(fn: (e: EventDto) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private onEvent(e: EventDto): void {
    this.live = true;
    const t = applyEvent(this.transfers, e);
    if (t !== this.transfers) this.transfers = t;
    if (e.type !== 'progress') this.scheduleRefresh();
    if (e.type === 'link') void this.refreshAccount();
    for (const l of this.listeners) l(e);
  }

  /** Refresh the status soon, once for a burst of events. */
  scheduleRefresh(delayMs = 250): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refreshStatus();
    }, delayMs);
  }

  async refreshStatus(): Promise<void> {
    try {
      const s = await this.backend.call({ cmd: 'status' });
      this.status = s;
      this.statusError = null;
      this.transfers = fromList(s.transfers);
      if (s.account) this.account = s.account;
      if (!s.linked) this.account = null;
    } catch (e) {
      this.statusError = errorText(e);
    }
  }

  async refreshAccount(): Promise<void> {
    try {
      this.account = await this.backend.call({ cmd: 'account' });
    } catch {
      // The status view says why (not linked, offline); the account line just stays empty.
    }
  }

  go(view: View): void {
    this.view = view;
    const hash = `#/${view}`;
    if (typeof location !== 'undefined' && location.hash !== hash) history.replaceState(null, '', `${location.pathname}${location.search}${hash}`);
  }

  openWizard(pair: string | null): void {
    this.wizard = { pair };
  }

  say(text: string): void {
    this.notice = text;
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => (this.notice = ''), 6000);
  }
}
