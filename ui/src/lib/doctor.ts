// The "Check setup" section of Settings: how each verdict of `doctor` looks, the order the
// checks are shown in (problems first, so that what needs doing is on top), and the one-line
// summary.
import type { CheckDto } from '../bindings/CheckDto';
import type { DoctorDto } from '../bindings/DoctorDto';
import type { Verdict } from '../bindings/Verdict';

export interface VerdictLook {
  label: string;
  /** A `tone-*` class of app.css. */
  tone: 'ok' | 'warn' | 'error';
  /** A glyph read together with the label (colour is never the only signal). */
  mark: string;
}

const LOOKS: Record<Verdict, VerdictLook> = {
  ok: { label: 'OK', tone: 'ok', mark: '✓' },
  warning: { label: 'Warning', tone: 'warn', mark: '!' },
  problem: { label: 'Problem', tone: 'error', mark: '✗' },
};

/** How a verdict looks; an unknown one (a newer daemon) looks like a problem. */
export function verdictLook(v: Verdict): VerdictLook {
  return LOOKS[v] ?? LOOKS.problem;
}

const RANK: Record<Verdict, number> = { problem: 0, warning: 1, ok: 2 };

/** The checks, problems first, then warnings, then the rest; otherwise in the daemon's order. */
export function orderedChecks(d: DoctorDto): CheckDto[] {
  return d.checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => (RANK[a.c.verdict] ?? 0) - (RANK[b.c.verdict] ?? 0) || a.i - b.i)
    .map(({ c }) => c);
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** "All 9 checks passed", or "1 problem, 2 warnings". */
export function doctorSummary(d: DoctorDto): string {
  const problems = d.checks.filter((c) => c.verdict === 'problem').length;
  const warnings = d.checks.filter((c) => c.verdict === 'warning').length;
  if (problems === 0 && warnings === 0) return `All ${d.checks.length} checks passed`;
  const parts = [];
  if (problems > 0) parts.push(plural(problems, 'problem'));
  if (warnings > 0) parts.push(plural(warnings, 'warning'));
  return parts.join(', ');
}
