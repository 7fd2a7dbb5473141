import { describe, expect, it, vi } from 'vitest';
import type { EventDto } from '../bindings/EventDto';
import { WebBackend, tokenFromLocation } from './web';

/** A fetch that records its requests and answers with `reply`. */
function fakeFetch(reply: () => Response | Promise<Response>) {
  const calls: { url: string; init: RequestInit }[] = [];
  const f = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    return reply();
  });
  return { fetch: f as unknown as typeof fetch, calls };
}
const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { 'Content-Type': 'application/json' } });

describe('WebBackend.call', () => {
  it('POSTs the command as JSON with the session token and returns ok', async () => {
    const { fetch, calls } = fakeFetch(() => json({ ok: { summary: 'Up to date' } }));
    const b = new WebBackend('tok123', { fetch });
    await expect(b.call({ cmd: 'status' })).resolves.toEqual({ summary: 'Up to date' });
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe('/api/command');
    expect(calls[0].init.method).toBe('POST');
    expect((calls[0].init.headers as Record<string, string>)['X-Nuvosync-Token']).toBe('tok123');
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ cmd: 'status' });
  });

  it('sends arguments in the wire form of the Rust enum', async () => {
    const { fetch, calls } = fakeFetch(() => json({ ok: null }));
    const b = new WebBackend('t', { fetch, base: 'http://127.0.0.1:9/' });
    await b.call({ cmd: 'resolve', args: { pair: 'demo', id: 3, choice: 'keep_mine' } });
    expect(calls[0].url).toBe('http://127.0.0.1:9/api/command');
    expect(calls[0].init.body).toBe('{"cmd":"resolve","args":{"pair":"demo","id":3,"choice":"keep_mine"}}');
  });

  it('resolves null answers (commands without a value)', async () => {
    const { fetch } = fakeFetch(() => json({ ok: null }));
    await expect(new WebBackend('t', { fetch }).call({ cmd: 'pause', args: { pair: null } })).resolves.toBeNull();
  });

  it('rejects with the ApiError the daemon sent, unchanged', async () => {
    const { fetch } = fakeFetch(() => json({ error: { code: 'not_found', message: 'no pair named "x" — see `nuvosync pair list`' } }));
    await expect(new WebBackend('t', { fetch }).call({ cmd: 'restore_plan', args: { pair: 'x' } })).rejects.toEqual({
      code: 'not_found',
      message: 'no pair named "x" — see `nuvosync pair list`',
    });
  });

  it('maps an unreachable daemon to no_daemon', async () => {
    const fetch = (async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof globalThis.fetch;
    await expect(new WebBackend('t', { fetch }).call({ cmd: 'status' })).rejects.toMatchObject({ code: 'no_daemon' });
  });

  it('maps a refused session token to an error that says what to do', async () => {
    const { fetch } = fakeFetch(() => new Response('missing or wrong session token\n', { status: 401 }));
    const e = await new WebBackend('bad', { fetch }).call({ cmd: 'status' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'invalid_argument' });
    expect((e as { message: string }).message).toMatch(/token/);
  });

  it('maps a body that is not JSON, or not an answer, to internal', async () => {
    const html = fakeFetch(() => new Response('<html>', { status: 502 }));
    await expect(new WebBackend('t', { fetch: html.fetch }).call({ cmd: 'status' })).rejects.toMatchObject({ code: 'internal' });
    const odd = fakeFetch(() => json({ something: 1 }));
    await expect(new WebBackend('t', { fetch: odd.fetch }).call({ cmd: 'status' })).rejects.toMatchObject({ code: 'internal' });
  });

  it('keeps the message of a malformed error and classifies it as internal', async () => {
    const { fetch } = fakeFetch(() => json({ error: { code: 'brand_new_code', message: 'm' } }));
    await expect(new WebBackend('t', { fetch }).call({ cmd: 'status' })).rejects.toEqual({ code: 'internal', message: expect.any(String) });
  });
});

describe('WebBackend.subscribe', () => {
  it('opens the event stream with the token and passes on parsed events', () => {
    let url = '';
    let push: (d: string) => void = () => {};
    const close = vi.fn();
    const b = new WebBackend('a b', {
      fetch: (() => {}) as unknown as typeof fetch,
      events: (u, onData) => {
        url = u;
        push = onData;
        return close;
      },
    });
    const got: EventDto[] = [];
    const stop = b.subscribe((e) => got.push(e));
    expect(url).toBe('/api/events?token=a%20b');
    push('{"type":"state","pair":"demo","state":"syncing"}');
    push('not json');
    push('{"no":"type"}');
    expect(got).toEqual([{ type: 'state', pair: 'demo', state: 'syncing' }]);
    stop();
    expect(close).toHaveBeenCalledOnce();
  });
});

describe('WebBackend helpers', () => {
  it('opens URLs in a new window and asks for folders by prompt', async () => {
    const open = vi.fn();
    const prompt = vi.fn(() => '  /home/me/lab  ');
    const b = new WebBackend('t', { fetch: (() => {}) as unknown as typeof fetch, open, prompt });
    await b.openUrl('https://example.com/x');
    expect(open).toHaveBeenCalledWith('https://example.com/x');
    await b.openSignIn('https://consent/page');
    expect(open).toHaveBeenLastCalledWith('https://consent/page');
    expect(typeof b.onNavigate(() => {})).toBe('function');
    await expect(b.pickFolder()).resolves.toBe('/home/me/lab');
    prompt.mockReturnValueOnce('   ');
    await expect(b.pickFolder()).resolves.toBeNull();
  });
  it('reads the token from the page address', () => {
    expect(tokenFromLocation('?token=abc&x=1')).toBe('abc');
    expect(tokenFromLocation('')).toBe('');
  });
});
