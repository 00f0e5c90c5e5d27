/**
 * The side-by-side mode's bookkeeping (bench/lib/side-by-side.ts): which
 * peer run goes with which scenario, the ratios, issue #13's targets per
 * round, and when a peer run fails the bench. Pure functions on made-up
 * results; nothing is measured.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ScenarioResult, ScenarioSpec } from '../../bench/lib/load.js';
import {
  checkTargets,
  compareRound,
  mergedLatchkeyResults,
  peerRunProblems,
  planSideBySide,
  type SideBySideRound,
} from '../../bench/lib/side-by-side.js';

const spec = (name: string): ScenarioSpec => ({
  name,
  description: name,
  connections: 16,
  createUser: () => Promise.reject(new Error('not run here')),
});
const ALL = [
  'password-2',
  'password-16',
  'unprotected-password-16',
  'refresh-rs256',
  'refresh-es256',
  'hooks-refresh-rs256',
  'client-credentials-rs256',
  'client-credentials-es256',
].map(spec);
const pick = (...names: string[]): ScenarioSpec[] => ALL.filter((s) => names.includes(s.name));

function result(name: string, figures: { rps: number; perCpu?: number; p99: number; errors?: number }): ScenarioResult {
  const seconds = 5;
  const completed = figures.rps * seconds;
  return {
    name,
    description: name,
    connections: 16,
    seconds,
    completed,
    errors: figures.errors ?? 0,
    firstError: figures.errors ? 'HTTP 500: boom' : undefined,
    requestsPerSecond: figures.rps,
    p50Ms: figures.p99 / 2,
    p99Ms: figures.p99,
    serverCpuSeconds: figures.perCpu === undefined ? undefined : completed / figures.perCpu,
    serverCpuSecondsPerNode: figures.perCpu === undefined ? undefined : [completed / figures.perCpu],
    requestsPerServerCpuSecond: figures.perCpu,
    postgresBackendCpuSeconds: undefined,
    doubleSpentRefreshTokens: name.includes('refresh') ? 0 : undefined,
    benchCpuSeconds: 1,
    recoveries: 0,
    stoppedUsers: 0,
    lastRecoveryError: undefined,
    setupError: undefined,
  };
}

function round(n: number, latchkey: ScenarioResult[], peer: ScenarioResult[]): SideBySideRound {
  return { round: n, peerFirst: n % 2 === 0, latchkey, peer, idleCpuSeconds: { latchkey: 0, peer: 0 } };
}

describe('planSideBySide', () => {
  it('pairs each grant once per round; ES256 and Latchkey-only scenarios run alone', () => {
    const plan = planSideBySide(pick('password-16', 'unprotected-password-16', 'refresh-rs256', 'refresh-es256'), ALL);
    assert.deepEqual(
      plan.map((slot) => [slot.latchkey.name, slot.peer?.name]),
      [
        ['password-16', 'password-16'],
        ['unprotected-password-16', undefined],
        ['refresh-rs256', 'refresh-rs256'],
        ['refresh-es256', undefined],
      ],
    );
  });

  it('an ES256 scenario selected alone brings the peer run of its RS256 twin', () => {
    const plan = planSideBySide(pick('client-credentials-es256'), ALL);
    assert.deepEqual(
      plan.map((slot) => [slot.latchkey.name, slot.peer?.name]),
      [['client-credentials-es256', 'client-credentials-rs256']],
    );
  });
});

describe('compareRound and checkTargets', () => {
  const first = round(
    1,
    [
      result('password-16', { rps: 130, perCpu: 60, p99: 190 }),
      result('refresh-rs256', { rps: 1500, perCpu: 2100, p99: 30 }),
      result('refresh-es256', { rps: 3000, perCpu: 4000, p99: 15 }),
      result('client-credentials-rs256', { rps: 1800, perCpu: 2000, p99: 25 }),
    ],
    [
      result('password-16', { rps: 125, perCpu: 58, p99: 200 }),
      result('refresh-rs256', { rps: 1400, perCpu: 1800, p99: 32 }),
      result('client-credentials-rs256', { rps: 1900, perCpu: 2050, p99: 24 }),
    ],
  );

  it('ratios are Latchkey ÷ peer, ES256 against the peer RS256 run, password against argon2id too', () => {
    const comparisons = compareRound(first, 140);
    const es256 = comparisons.find((c) => c.scenario === 'refresh-es256');
    assert.equal(es256?.peerScenario, 'refresh-rs256');
    assert.ok(Math.abs((es256?.perCpuSecondRatio ?? 0) - 4000 / 1800) < 1e-9);
    const password = comparisons.find((c) => c.scenario === 'password-16');
    assert.ok(Math.abs((password?.requestsPerSecondRatio ?? 0) - 130 / 125) < 1e-9);
    assert.ok(Math.abs((password?.p99Ratio ?? 0) - 190 / 200) < 1e-9);
    assert.ok(Math.abs((password?.argon2?.latchkeyRatio ?? 0) - 130 / 140) < 1e-9);
    assert.ok(Math.abs((password?.argon2?.peerRatio ?? 0) - 125 / 140) < 1e-9);
    assert.equal(comparisons.find((c) => c.scenario === 'refresh-rs256')?.argon2, undefined);
  });

  it('checks every line of the issue, in its order, with the right bound', () => {
    const targets = checkTargets(compareRound(first, 140));
    assert.deepEqual(
      targets.map((t) => [t.scenario, t.verdict, Math.round((t.bound ?? 0) * 10) / 10]),
      [
        ['refresh-rs256', 'PASS', 1980], // 2100 ≥ 1.1 × 1800
        ['refresh-es256', 'FAIL', 4500], // 4000 < 2.5 × 1800
        ['client-credentials-rs256', 'FAIL', 2460], // 2000 < 1.2 × 2050
        ['password-16', 'PASS', 126], // 130 ≥ 0.9 × 140
        ['password-16', 'FAIL', 137.5], // 130 < 1.1 × 125
        ['password-16', 'PASS', 200], // p99 190 ≤ 200
        ['refresh-rs256', 'PASS', 32],
        ['client-credentials-rs256', 'FAIL', 24], // p99 25 > 24
      ],
    );
  });

  it('checks each round on its own, and leaves out scenarios that did not run', () => {
    const second = round(
      2,
      [result('refresh-rs256', { rps: 1000, perCpu: 1500, p99: 40 })],
      [result('refresh-rs256', { rps: 1400, perCpu: 1400, p99: 32 })],
    );
    const targets = checkTargets([...compareRound(first, 140), ...compareRound(second, 140)]);
    const roundTwo = targets.filter((t) => t.round === 2);
    assert.deepEqual(
      roundTwo.map((t) => [t.scenario, t.target.split(' ')[0], t.verdict]),
      [
        ['refresh-rs256', 'req', 'FAIL'], // 1500 < 1.1 × 1400
        ['refresh-rs256', 'p99', 'FAIL'],
      ],
    );
    assert.equal(targets.filter((t) => t.round === 1).length, 8);
  });

  it('a missing figure is n/a, not a pass', () => {
    const noCpu = round(
      1,
      [result('client-credentials-rs256', { rps: 1800, p99: 25 })],
      [result('client-credentials-rs256', { rps: 1900, perCpu: 2050, p99: 24 })],
    );
    const [perCpu] = checkTargets(compareRound(noCpu, 140));
    assert.equal(perCpu?.verdict, 'n/a');
  });

  it('errors keep the verdict and are named beside it', () => {
    const withErrors = round(
      1,
      [result('refresh-rs256', { rps: 1500, perCpu: 2100, p99: 30, errors: 3 })],
      [result('refresh-rs256', { rps: 1400, perCpu: 1800, p99: 32 })],
    );
    const [perCpu] = checkTargets(compareRound(withErrors, 140));
    assert.equal(perCpu?.verdict, 'PASS');
    assert.equal(perCpu?.note, 'Latchkey 3 errors');
  });
});

describe('peerRunProblems and mergedLatchkeyResults', () => {
  it('a peer run with errors fails the bench; Latchkey errors do not count here', () => {
    const rounds = [
      round(
        1,
        [result('refresh-rs256', { rps: 1, perCpu: 1, p99: 1, errors: 2 })],
        [result('refresh-rs256', { rps: 1, perCpu: 1, p99: 1 })],
      ),
      round(2, [], [result('password-16', { rps: 1, perCpu: 1, p99: 1, errors: 1 })]),
    ];
    assert.deepEqual(peerRunProblems(rounds), ['round 2, password-16: 1 error(s); first: HTTP 500: boom']);
  });

  it("merges Latchkey's rounds per scenario, as a run without --peer does", () => {
    const rounds = [
      round(1, [result('refresh-rs256', { rps: 1000, perCpu: 2000, p99: 30 })], []),
      round(2, [result('refresh-rs256', { rps: 2000, perCpu: 2000, p99: 40 })], []),
    ];
    const [merged] = mergedLatchkeyResults(rounds);
    assert.equal(merged?.completed, 15_000);
    assert.equal(merged?.p99Ms, 40);
  });
});
