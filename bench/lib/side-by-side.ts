/**
 * `npm run bench -- --peer` (issue #13): each scenario the peer can serve
 * is run against Latchkey and against the peer right one after the other,
 * with the same virtual users, connections and window, only one server
 * under load at a time. Latchkey goes first in odd rounds and the peer in
 * even ones, so the machine's drift does not favour one side. The goals
 * are ratios because absolute figures on the bench machine swing by 2×
 * within an hour; they are checked per round because the issue asks for
 * every run.
 */
import { mergeRounds, runScenario, type RunContext, type ScenarioResult, type ScenarioSpec } from './load.js';
import { processCpuSeconds } from './proc-cpu.js';
import type { RawRates } from './raw-rates.js';

/**
 * The peer's scenario each Latchkey scenario is measured against. The peer
 * signs RS256 only, so the ES256 scenarios meet the peer's RS256 run of the
 * same grant; the unprotected and hook scenarios are Latchkey-only.
 */
export const PEER_COUNTERPART: Readonly<Record<string, string>> = {
  'password-2': 'password-2',
  'password-16': 'password-16',
  'refresh-rs256': 'refresh-rs256',
  'refresh-es256': 'refresh-rs256',
  'client-credentials-rs256': 'client-credentials-rs256',
  'client-credentials-es256': 'client-credentials-rs256',
};

/** One Latchkey scenario and the peer run that goes with it in a round (none when an earlier slot already ran it). */
export interface SideBySideSlot {
  readonly latchkey: ScenarioSpec;
  readonly peer: ScenarioSpec | undefined;
}

/** What one round measured, both sides. */
export interface SideBySideRound {
  readonly round: number;
  readonly peerFirst: boolean;
  readonly latchkey: readonly ScenarioResult[];
  readonly peer: readonly ScenarioResult[];
  /**
   * CPU each server used while only the other was loaded (set-up included),
   * summed over the round: it should be close to zero, or the "each server
   * alone" premise fails. Undefined if /proc could not be read.
   */
  readonly idleCpuSeconds: { readonly latchkey: number | undefined; readonly peer: number | undefined };
}

/** The figures a comparison uses from one run. */
export interface Figures {
  readonly requestsPerSecond: number;
  readonly requestsPerServerCpuSecond: number | undefined;
  readonly p99Ms: number;
  readonly errors: number;
  readonly completed: number;
  readonly setupError: string | undefined;
}

/** One Latchkey scenario of one round beside the peer; every ratio is Latchkey ÷ peer. */
export interface Comparison {
  readonly round: number;
  readonly peerFirst: boolean;
  readonly scenario: string;
  readonly peerScenario: string;
  readonly latchkey: Figures;
  readonly peer: Figures;
  readonly perCpuSecondRatio: number | undefined;
  readonly requestsPerSecondRatio: number | undefined;
  readonly p99Ratio: number | undefined;
  /** Password scenarios: each side's req/s ÷ the raw argon2id verify rate (two in flight). */
  readonly argon2: { readonly verifyPerSecond: number; readonly latchkeyRatio: number; readonly peerRatio: number } | undefined;
}

export type Verdict = 'PASS' | 'FAIL' | 'n/a';

/** One line of issue #13's "done when", checked on one round. */
export interface TargetCheck {
  readonly round: number;
  readonly scenario: string;
  /** What is compared, e.g. "req per server CPU-s ≥ 1.1 × the peer's refresh-rs256". */
  readonly target: string;
  readonly actual: number | undefined;
  /** The bound `actual` must reach: at least it (throughput), at most it (p99). */
  readonly bound: number | undefined;
  readonly verdict: Verdict;
  /** Why n/a, or errors that make the figures doubtful. */
  readonly note: string | undefined;
}

/** What `--peer` adds to the report and its JSON. */
export interface SideBySideReport {
  readonly peer: { readonly library: string; readonly command: string; readonly uvThreadpoolSize: string };
  readonly rounds: readonly SideBySideRound[];
  readonly comparisons: readonly Comparison[];
  readonly targets: readonly TargetCheck[];
}

/**
 * Pairs each selected scenario with its peer run. A peer scenario runs once
 * per round, beside the first Latchkey scenario that needs it (refresh-rs256
 * before refresh-es256), or beside the ES256 one when only that is selected.
 */
export function planSideBySide(selected: readonly ScenarioSpec[], all: readonly ScenarioSpec[]): SideBySideSlot[] {
  const planned = new Set<string>();
  return selected.map((latchkey) => {
    const counterpart = PEER_COUNTERPART[latchkey.name];
    if (counterpart === undefined || planned.has(counterpart)) return { latchkey, peer: undefined };
    planned.add(counterpart);
    const peer = all.find((spec) => spec.name === counterpart);
    if (peer === undefined) throw new Error(`no scenario ${counterpart} for the peer`);
    return { latchkey, peer };
  });
}

/** Runs the plan `rounds` times, alternating which server goes first. */
export async function runSideBySide(
  plan: readonly SideBySideSlot[],
  latchkey: RunContext,
  peer: RunContext,
  rounds: number,
): Promise<SideBySideRound[]> {
  const results: SideBySideRound[] = [];
  for (let round = 1; round <= rounds && !latchkey.signal.aborted; round++) {
    const peerFirst = round % 2 === 0;
    const label = rounds > 1 ? `, round ${round} of ${rounds}` : '';
    const latchkeyResults: ScenarioResult[] = [];
    const peerResults: ScenarioResult[] = [];
    // Each server's CPU while the other was loaded.
    let latchkeyIdle: number | undefined = 0;
    let peerIdle: number | undefined = 0;
    for (const slot of plan) {
      const runs: [ScenarioSpec, 'Latchkey' | 'the peer'][] = [[slot.latchkey, 'Latchkey']];
      if (slot.peer !== undefined) runs.splice(peerFirst ? 0 : 1, 0, [slot.peer, 'the peer']);
      for (const [spec, side] of runs) {
        if (latchkey.signal.aborted) break;
        const [ctx, other] = side === 'Latchkey' ? [latchkey, peer] : [peer, latchkey];
        process.stderr.write(`bench: ${spec.name} on ${side} (${spec.connections} connections, ${ctx.durationSeconds} s${label})\n`);
        const idleBefore = cpuSecondsOf(other);
        const result = await runScenario(spec, ctx);
        const idleUsed = subtract(cpuSecondsOf(other), idleBefore);
        if (result.setupError !== undefined) process.stderr.write(`bench:   ${result.setupError}\n`);
        if (result.firstError !== undefined) process.stderr.write(`bench:   first error: ${result.firstError}\n`);
        if (side === 'Latchkey') {
          latchkeyResults.push(result);
          peerIdle = add(peerIdle, idleUsed);
        } else {
          peerResults.push(result);
          latchkeyIdle = add(latchkeyIdle, idleUsed);
        }
      }
    }
    const idleCpuSeconds = { latchkey: latchkeyIdle, peer: peerIdle };
    results.push({ round, peerFirst, latchkey: latchkeyResults, peer: peerResults, idleCpuSeconds });
  }
  return results;
}

/** Latchkey's rows for the normal report: each scenario's rounds merged, as a run without --peer does. */
export function mergedLatchkeyResults(rounds: readonly SideBySideRound[]): ScenarioResult[] {
  const byScenario = new Map<string, ScenarioResult[]>();
  for (const round of rounds) {
    for (const result of round.latchkey) byScenario.set(result.name, [...(byScenario.get(result.name) ?? []), result]);
  }
  return [...byScenario.values()].map(mergeRounds);
}

export function summarizeSideBySide(
  peer: SideBySideReport['peer'],
  rounds: readonly SideBySideRound[],
  raw: Pick<RawRates, 'argon2Verify'>,
): SideBySideReport {
  const comparisons = rounds.flatMap((round) => compareRound(round, raw.argon2Verify.perSecond));
  return { peer, rounds, comparisons, targets: checkTargets(comparisons) };
}

/** A peer run that failed (set-up, errors, a double spend): the figures it is compared on mean nothing, so the bench fails. */
export function peerRunProblems(rounds: readonly SideBySideRound[]): string[] {
  return rounds.flatMap((round) =>
    round.peer.flatMap((result) => {
      const where = `round ${round.round}, ${result.name}`;
      if (result.setupError !== undefined) return [`${where}: ${result.setupError}`];
      const problems: string[] = [];
      if (result.errors > 0) problems.push(`${where}: ${result.errors} error(s); first: ${result.firstError ?? '?'}`);
      if ((result.doubleSpentRefreshTokens ?? 0) > 0) problems.push(`${where}: ${result.doubleSpentRefreshTokens} double spend(s)`);
      return problems;
    }),
  );
}

export function compareRound(round: SideBySideRound, argon2VerifyPerSecond: number): Comparison[] {
  return round.latchkey.flatMap((latchkey) => {
    const peerScenario = PEER_COUNTERPART[latchkey.name];
    const peer = round.peer.find((result) => result.name === peerScenario);
    if (peerScenario === undefined || peer === undefined) return [];
    const l = figures(latchkey);
    const p = figures(peer);
    const password = latchkey.name.startsWith('password-');
    return [
      {
        round: round.round,
        peerFirst: round.peerFirst,
        scenario: latchkey.name,
        peerScenario,
        latchkey: l,
        peer: p,
        perCpuSecondRatio: ratio(l.requestsPerServerCpuSecond, p.requestsPerServerCpuSecond),
        requestsPerSecondRatio: ratio(l.requestsPerSecond, p.requestsPerSecond),
        p99Ratio: ratio(l.p99Ms, p.p99Ms),
        argon2: password
          ? {
              verifyPerSecond: argon2VerifyPerSecond,
              latchkeyRatio: l.requestsPerSecond / argon2VerifyPerSecond,
              peerRatio: p.requestsPerSecond / argon2VerifyPerSecond,
            }
          : undefined,
      },
    ];
  });
}

type Measure = 'req per server CPU-s' | 'req/s' | 'p99 ms';

/** Issue #13's "done when", in its order; `factor` multiplies the peer's figure, or the argon2id rate. */
const TARGETS: readonly { scenario: string; measure: Measure; factor: number; against: 'peer' | 'argon2' }[] = [
  { scenario: 'refresh-rs256', measure: 'req per server CPU-s', factor: 1.1, against: 'peer' },
  { scenario: 'refresh-es256', measure: 'req per server CPU-s', factor: 2.5, against: 'peer' },
  { scenario: 'client-credentials-rs256', measure: 'req per server CPU-s', factor: 1.2, against: 'peer' },
  { scenario: 'password-16', measure: 'req/s', factor: 0.9, against: 'argon2' },
  { scenario: 'password-16', measure: 'req/s', factor: 1.1, against: 'peer' },
  { scenario: 'password-16', measure: 'p99 ms', factor: 1, against: 'peer' },
  { scenario: 'refresh-rs256', measure: 'p99 ms', factor: 1, against: 'peer' },
  { scenario: 'client-credentials-rs256', measure: 'p99 ms', factor: 1, against: 'peer' },
];

/** Every target whose scenario ran, per round; a scenario not selected has no line. */
export function checkTargets(comparisons: readonly Comparison[]): TargetCheck[] {
  const rounds = [...new Set(comparisons.map((c) => c.round))].sort((a, b) => a - b);
  return rounds.flatMap((round) =>
    TARGETS.flatMap((rule) => {
      const comparison = comparisons.find((c) => c.round === round && c.scenario === rule.scenario);
      return comparison === undefined ? [] : [checkTarget(comparison, rule)];
    }),
  );
}

function checkTarget(c: Comparison, rule: (typeof TARGETS)[number]): TargetCheck {
  const pick = (f: Figures): number | undefined =>
    rule.measure === 'req per server CPU-s' ? f.requestsPerServerCpuSecond : rule.measure === 'req/s' ? f.requestsPerSecond : f.p99Ms;
  const atMost = rule.measure === 'p99 ms';
  const reference = rule.against === 'argon2' ? c.argon2?.verifyPerSecond : pick(c.peer);
  const against = rule.against === 'argon2' ? 'the raw argon2id verify rate (2 in flight)' : `the peer's ${c.peerScenario}`;
  const target = `${rule.measure} ${atMost ? '≤' : '≥'} ${rule.factor === 1 ? '' : `${rule.factor} × `}${against}`;
  const actual = usable(pick(c.latchkey));
  const bound = usable(reference === undefined ? undefined : reference * rule.factor);
  const failedSetUp: string[] = [];
  if (c.latchkey.setupError !== undefined) failedSetUp.push('Latchkey');
  if (rule.against === 'peer' && c.peer.setupError !== undefined) failedSetUp.push('the peer');
  if (failedSetUp.length > 0 || actual === undefined || bound === undefined) {
    const note = failedSetUp.length > 0 ? `set-up failed on ${failedSetUp.join(' and ')}` : 'a figure is missing';
    return { round: c.round, scenario: c.scenario, target, actual, bound, verdict: 'n/a', note };
  }
  const pass = atMost ? actual <= bound : actual >= bound;
  return { round: c.round, scenario: c.scenario, target, actual, bound, verdict: pass ? 'PASS' : 'FAIL', note: errorNote(c, rule.against) };
}

/** Errors do not void a verdict (they may be the finding), but the line says so. */
function errorNote(c: Comparison, against: 'peer' | 'argon2'): string | undefined {
  const parts = [
    c.latchkey.errors > 0 ? `Latchkey ${c.latchkey.errors} errors` : '',
    against === 'peer' && c.peer.errors > 0 ? `the peer ${c.peer.errors} errors` : '',
  ].filter((part) => part !== '');
  return parts.length === 0 ? undefined : parts.join(', ');
}

function figures(result: ScenarioResult): Figures {
  return {
    requestsPerSecond: result.requestsPerSecond,
    requestsPerServerCpuSecond: result.requestsPerServerCpuSecond,
    p99Ms: result.p99Ms,
    errors: result.errors,
    completed: result.completed,
    setupError: result.setupError,
  };
}

function ratio(numerator: number | undefined, denominator: number | undefined): number | undefined {
  if (numerator === undefined || denominator === undefined || denominator === 0) return undefined;
  return usable(numerator / denominator);
}

/** NaN (a percentile of nothing) and infinities are no figure at all. */
function usable(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

/** Every process of a context's CPU seconds so far, summed; undefined if one cannot be read. */
function cpuSecondsOf(ctx: RunContext): number | undefined {
  let total = 0;
  for (const pid of ctx.serverPids) {
    const seconds = processCpuSeconds(pid, ctx.ticksPerSecond);
    if (seconds === undefined) return undefined;
    total += seconds;
  }
  return total;
}

function subtract(after: number | undefined, before: number | undefined): number | undefined {
  return after === undefined || before === undefined ? undefined : after - before;
}

function add(total: number | undefined, more: number | undefined): number | undefined {
  return total === undefined || more === undefined ? undefined : total + more;
}
