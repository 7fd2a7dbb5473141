import { describe, expect, it } from 'vitest';
import type { CheckDto } from '../bindings/CheckDto';
import type { DoctorDto } from '../bindings/DoctorDto';
import type { Verdict } from '../bindings/Verdict';
import { doctorSummary, orderedChecks, verdictLook } from './doctor';

const check = (id: string, verdict: Verdict, fix?: string): CheckDto => ({ id, title: id, verdict, detail: `${id} detail`, fix });
const report = (...checks: CheckDto[]): DoctorDto => ({
  checks,
  verdict: checks.some((c) => c.verdict === 'problem') ? 'problem' : checks.some((c) => c.verdict === 'warning') ? 'warning' : 'ok',
});

describe('verdictLook', () => {
  it('gives each verdict its own label, tone and mark', () => {
    const looks = (['ok', 'warning', 'problem'] as Verdict[]).map(verdictLook);
    expect(looks.map((l) => l.label)).toEqual(['OK', 'Warning', 'Problem']);
    expect(new Set(looks.map((l) => l.tone)).size).toBe(3);
    expect(new Set(looks.map((l) => l.mark)).size).toBe(3);
  });
  it('treats an unknown verdict (a newer daemon) as a problem rather than crashing', () => {
    expect(verdictLook('bogus' as Verdict).label).toBe('Problem');
  });
});

describe('orderedChecks', () => {
  it('puts problems first, then warnings, keeping the order within each', () => {
    const d = report(check('account', 'ok'), check('clock', 'warning'), check('keyring', 'problem'), check('hosts', 'ok'), check('inotify', 'problem'));
    expect(orderedChecks(d).map((c) => c.id)).toEqual(['keyring', 'inotify', 'clock', 'account', 'hosts']);
  });
});

describe('doctorSummary', () => {
  it('says all passed when nothing is wrong', () => {
    expect(doctorSummary(report(check('a', 'ok'), check('b', 'ok')))).toBe('All 2 checks passed');
  });
  it('counts problems and warnings with the right plural', () => {
    expect(doctorSummary(report(check('a', 'problem'), check('b', 'warning'), check('c', 'warning')))).toBe('1 problem, 2 warnings');
    expect(doctorSummary(report(check('a', 'ok'), check('b', 'warning')))).toBe('1 warning');
  });
});
