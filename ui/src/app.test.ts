import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppState, viewFromHash } from './app.svelte';
import type { Backend } from './backend';
import type { Command } from './bindings/Command';
import type { EventDto } from './bindings/EventDto';
import type { StatusDto } from './bindings/StatusDto';

const status = (over: Partial<StatusDto> = {}): StatusDto => ({
  state: 'up_to_date',
  summary: 'Up to date',
  linked: true,
  account: null,
  pairs: [],
  transfers: [],
  ...over,
});

/** A backend whose answers a test sets, and whose events it pushes. */
function fakeBackend() {
  const sent: Command[] = [];
  let push: (e: EventDto) => void = () => {};
  const answers: Record<string, unknown> = { status: status(), account: { email: 'a@b.c' } };
  const backend: Backend = {
    kind: 'web',
    call: async <T,>(cmd: Command) => {
      sent.push(cmd);
      const a = answers[cmd.cmd];
      if (a instanceof Error) throw { code: 'offline', message: a.message };
      return a as T;
    },
    subscribe: (on) => {
      push = on;
      return () => (push = () => {});
    },
    openPath: async () => {},
    openUrl: async () => {},
    pickFolder: async () => null,
    openSignIn: async () => {},
    onNavigate: () => () => {},
  };
  return { backend, sent, answers, push: (e: EventDto) => push(e) };
}

describe('AppState', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('loads the status and the account at start', async () => {
    const f = fakeBackend();
    const app = new AppState(f.backend);
    const stop = app.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(app.status?.summary).toBe('Up to date');
    expect(app.account?.email).toBe('a@b.c');
    expect(f.sent.map((c) => c.cmd)).toEqual(['status', 'account']);
    stop();
  });

  it('keeps transfers current from progress events without asking the daemon', async () => {
    const f = fakeBackend();
    const app = new AppState(f.backend);
    const stop = app.start();
    await vi.advanceTimersByTimeAsync(0);
    f.sent.length = 0;
    const transfer = { pair: 'demo', path: '/big', direction: 'upload', done: 5, total: 10, bytes_per_sec: 1, eta_secs: 5 };
    f.push({ type: 'progress', transfer });
    expect([...app.transfers.values()]).toEqual([transfer]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(f.sent).toEqual([]);
    stop();
  });

  it('refreshes the status once for a burst of other events', async () => {
    const f = fakeBackend();
    const app = new AppState(f.backend);
    const stop = app.start();
    await vi.advanceTimersByTimeAsync(0);
    f.sent.length = 0;
    const seen: EventDto[] = [];
    app.onEvents((e) => seen.push(e));
    for (let i = 0; i < 5; i++) f.push({ type: 'synced', pair: 'demo', path: `/f${i}`, action: 'uploaded' });
    await vi.advanceTimersByTimeAsync(300);
    expect(f.sent.map((c) => c.cmd)).toEqual(['status']);
    expect(seen).toHaveLength(5);
    stop();
  });

  it('says why when the status cannot be had, and recovers', async () => {
    const f = fakeBackend();
    f.answers.status = new Error('nuvosync cannot be reached');
    const app = new AppState(f.backend);
    const stop = app.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(app.statusError).toBe('nuvosync cannot be reached');
    f.answers.status = status({ summary: 'Syncing' });
    await vi.advanceTimersByTimeAsync(5000);
    expect(app.statusError).toBeNull();
    expect(app.status?.summary).toBe('Syncing');
    stop();
  });

  it('forgets the account when unlinked', async () => {
    const f = fakeBackend();
    const app = new AppState(f.backend);
    const stop = app.start();
    await vi.advanceTimersByTimeAsync(0);
    f.answers.status = status({ linked: false });
    await app.refreshStatus();
    expect(app.account).toBeNull();
    stop();
  });
});

it('reads the view from the location hash', () => {
  expect(viewFromHash('#/settings')).toBe('settings');
  expect(viewFromHash('#conflicts')).toBe('conflicts');
  expect(viewFromHash('')).toBe('status');
  expect(viewFromHash('#/nope')).toBe('status');
});
