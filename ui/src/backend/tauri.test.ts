import { describe, expect, it, vi } from 'vitest';
import type { EventDto } from '../bindings/EventDto';
import { EVENT_NAME, TauriBackend, type TauriApi } from './tauri';

function fakeApi(invoke: (cmd: string, args?: Record<string, unknown>) => Promise<unknown>) {
  const handlers: ((e: { payload: unknown }) => void)[] = [];
  const unlisten = vi.fn();
  const api: TauriApi = {
    invoke: invoke as TauriApi['invoke'],
    listen: (async (name: string, h: (e: { payload: unknown }) => void) => {
      expect(name).toBe(EVENT_NAME);
      handlers.push(h);
      return unlisten;
    }) as TauriApi['listen'],
  };
  return { api, handlers, unlisten };
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
});
