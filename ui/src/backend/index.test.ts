import { describe, expect, it } from 'vitest';
import { backendKind, createBackend, errorText, isApiError, toApiError } from './index';

describe('backend selection', () => {
  it('uses Tauri when the Tauri internals are present, the web transport otherwise', () => {
    expect(backendKind({ __TAURI_INTERNALS__: {} })).toBe('tauri');
    expect(backendKind({})).toBe('web');
    expect(backendKind({ __TAURI_INTERNALS__: undefined })).toBe('web');
  });
  it('makes a web backend with the page token in a browser window', async () => {
    const win = {
      location: { search: '?token=zz' },
      fetch: async () => new Response('{"ok":1}'),
      EventSource: class {},
      open: () => null,
      prompt: () => null,
    } as unknown as Window & typeof globalThis;
    const b = await createBackend(win);
    expect(b.kind).toBe('web');
    await expect(b.call({ cmd: 'status' })).resolves.toBe(1);
  });
  it('makes a Tauri backend inside the app', async () => {
    const win = { __TAURI_INTERNALS__: { invoke: async () => 'pong' } } as unknown as Window & typeof globalThis;
    expect((await createBackend(win)).kind).toBe('tauri');
  });
});

describe('errors', () => {
  it('recognises ApiErrors by a known code and a message', () => {
    expect(isApiError({ code: 'offline', message: 'm' })).toBe(true);
    expect(isApiError({ code: 'offline' })).toBe(false);
    expect(isApiError({ code: 'nope', message: 'm' })).toBe(false);
    expect(isApiError(null)).toBe(false);
  });
  it('turns anything thrown into an ApiError', () => {
    expect(toApiError(new Error('boom'))).toEqual({ code: 'internal', message: 'boom' });
    expect(toApiError('text', 'io')).toEqual({ code: 'io', message: 'text' });
    expect(toApiError(42).code).toBe('internal');
    expect(errorText({ code: 'auth', message: 'relink' })).toBe('relink');
  });
});
