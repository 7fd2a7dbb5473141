import { describe, expect, it } from 'vitest';
import type { StatusDto } from '../bindings/StatusDto';
import type { AnswerOf, Backend } from './types';

/**
 * Type-checked, never run: each command's answer has the type the daemon's table gives it
 * (`ui/src/bindings/CommandAnswers.ts`), so expecting another one is a type error.
 */
async function answersAreTyped(b: Backend): Promise<void> {
  const status: StatusDto = await b.call({ cmd: 'status' });
  const names: string[] = await b.call({ cmd: 'excluded_list', args: { pair: 'p' } });
  const nothing: null = await b.call({ cmd: 'pause', args: { pair: null } });
  // @ts-expect-error `settings_get` answers a SettingsDto, not a StatusDto
  const wrong: StatusDto = await b.call({ cmd: 'settings_get' });
  // @ts-expect-error `subscribe` is the event stream (Backend.subscribe), not a call
  await b.call({ cmd: 'subscribe' });
  void [status, names, nothing, wrong];
}

describe('Backend.call', () => {
  it('names each answer type by its command', () => {
    const unlinked: AnswerOf<{ cmd: 'unlink' }> = { revoked: false };
    expect(unlinked.revoked).toBe(false);
    expect(typeof answersAreTyped).toBe('function');
  });
});
