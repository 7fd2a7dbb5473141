import { describe, expect, it, vi } from 'vitest';
import type { EventDto } from '../bindings/EventDto';
import { EVENT_NAME, NAVIGATE_EVENT, TauriBackend, type TauriApi } from './tauri';

function fakeApi(invoke: (cmd: string, args?: Record<string, unknown>) => Promise<unknown>) {
  const handlers: ((e: { payload: unknown }) => void)[] = [];
  const navigators: ((e: { payload: unknown }) => void)[] = [];
  const unlisten = vi.fn();
  const api: TauriApi = {
    invoke: invoke as TauriApi['invoke'],
    listen: (async (name: string, h: (e: { payload: unknown }) => void) => {
      (name === NAVIGATE_EVENT ? navigators : handlers).push(h);
      expect([EVENT_NAME, NAVIGATE_EVENT]).toContain(name);
      return unlisten;
    }) as TauriApi['listen'],
  };
  return { api, handlers, navigators, unlisten };
}

describe('TauriBackend', () => {
  it('invokes `command` with the command under `cmd`', async () => {
    const invoke = vi.fn(async () => ({ summary: 'x' }));
    const b = new TauriBackend(fakeApi(invoke).api);
    await expect(b.call({ cmd: 'status' })).resolves.toEqual({ summary: 'x' });
    expect(invoke).toHaveBeenCalledWith('command', { cmd: { cmd: 'status' } });
  });
  it('passes ApiErrors through and wraps anything else', async () => {
    const b1 = new TauriBackend(fakeApi(async () => Promise.reject({ code: 'paused', message: 'm' })).api);
    await expect(b1.call({ cmd: 'status' })).rejects.toEqual({ code: 'paused', message: 'm' });
    const b2 = new TauriBackend(fakeApi(async () => Promise.reject('command command not found')).api);
    await expect(b2.call({ cmd: 'status' })).rejects.toEqual({ code: 'internal', message: 'command command not found' });
  });
  it('uses the shell commands for paths, URLs and the folder picker', async () => {
    const invoke = vi.fn(async (cmd: string) => (cmd === 'pick_folder' ? '/home/me' : null));
    const b = new TauriBackend(fakeApi(invoke).api);
    await b.openPath('/tmp/x');
    await b.openUrl('https://x');
    await expect(b.pickFolder()).resolves.toBe('/home/me');
    expect(invoke.mock.calls).toEqual([['open_path', { path: '/tmp/x' }], ['open_url', { url: 'https://x' }], ['pick_folder']]);
  });
  it('delivers event payloads and stops listening', async () => {
    const f = fakeApi(async () => null);
    const got: EventDto[] = [];
    const stop = new TauriBackend(f.api).subscribe((e) => got.push(e));
    await Promise.resolve();
    f.handlers[0]({ payload: { type: 'link', linked: true } });
    expect(got).toEqual([{ type: 'link', linked: true }]);
    stop();
    expect(f.unlisten).toHaveBeenCalledOnce();
  });
  it('stops a listener that arrives after unsubscribing', async () => {
    const f = fakeApi(async () => null);
    const stop = new TauriBackend(f.api).subscribe(() => {});
    stop();
    await new Promise((r) => setTimeout(r, 0));
    expect(f.unlisten).toHaveBeenCalledOnce();
  });
  it('opens the sign-in window, or the browser when the shell has none', async () => {
    const calls: unknown[][] = [];
    const b = new TauriBackend(
      fakeApi(async (cmd, args) => {
        calls.push([cmd, args]);
        if (cmd === 'open_link_window') throw 'Command open_link_window not found';
        return null;
      }).api,
    );
    await b.openSignIn('https://consent');
    expect(calls).toEqual([
      ['open_link_window', { url: 'https://consent' }],
      ['open_url', { url: 'https://consent' }],
    ]);
  });
  it('passes on what the shell asks to show', async () => {
    const f = fakeApi(async () => null);
    const got: string[] = [];
    const stop = new TauriBackend(f.api).onNavigate((t) => got.push(t));
    await Promise.resolve();
    f.navigators[0]({ payload: 'restore' });
    f.navigators[0]({ payload: 42 });
    expect(got).toEqual(['restore']);
    stop();
  });
});
