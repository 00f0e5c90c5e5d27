import { Pool } from 'undici';
import { processCpuSeconds } from './proc-cpu.js';

/** One answer from the token endpoint. */
export interface TokenResponse {
  readonly status: number;
  readonly body: string;
}

/** Posts form bodies to one tenant's token endpoint over a keep-alive pool. */
export interface TokenClient {
  post(form: URLSearchParams): Promise<TokenResponse>;
}

/** Did a measured request do what the scenario expects? */
export type Outcome = { readonly ok: true } | { readonly ok: false; readonly detail: string };

/** One virtual user: sends one request at a time, back to back. */
export interface VirtualUser {
  /** The next measured request's form body. */
  nextRequest(): URLSearchParams;
  /** Judges the answer and updates the user's state (e.g. the newest refresh token). */
  accept(response: TokenResponse): Outcome;
  /**
   * Called after a failed request when the user's state may be unusable
   * (a broken refresh chain). Its requests are not counted as measured, but
   * its time and server CPU fall inside the window: the scenario's errors
   * column flags such runs.
   */
  recover?(client: TokenClient): Promise<void>;
}

export interface ScenarioSpec {
  readonly name: string;
  readonly description: string;
  readonly connections: number;
  /** Another tenant's token endpoint than the run's default (the unprotected twin). */
  readonly tokenPath?: string;
  /** Unmeasured set-up per virtual user; it also warms up the connection and the server's code paths. */
  createUser(client: TokenClient): Promise<VirtualUser>;
}

export interface ScenarioResult {
  readonly name: string;
  readonly description: string;
  readonly connections: number;
  readonly seconds: number;
  /** HTTP answers received in the window, whatever their status. */
  readonly completed: number;
  /** Non-200 answers plus requests that failed without an answer. */
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpuSeconds: number | undefined;
  readonly requestsPerServerCpuSecond: number | undefined;
  readonly benchCpuSeconds: number;
  /** Times a virtual user had to rebuild its state (a new refresh chain) after a failure. */
  readonly recoveries: number;
  /** Virtual users that gave up because recovery itself failed. */
  readonly stoppedUsers: number;
  readonly lastRecoveryError: string | undefined;
  /** Set when set-up failed and nothing was measured. */
  readonly setupError: string | undefined;
}

export interface RunContext {
  readonly origin: string;
  readonly tokenPath: string;
  readonly serverPid: number;
  readonly ticksPerSecond: number;
  readonly durationSeconds: number;
  /** Aborts when the server dies or the user interrupts. */
  readonly signal: AbortSignal;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** Runs one scenario: set-up, then `connections` users back to back for the window. */
export async function runScenario(spec: ScenarioSpec, ctx: RunContext): Promise<ScenarioResult> {
  const pool = new Pool(ctx.origin, {
    connections: spec.connections,
    pipelining: 1,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
  // One listener per scenario (not one per request, which trips Node's
  // MaxListeners warning): destroying the pool fails every in-flight request.
  const abort = (): void => void pool.destroy();
  ctx.signal.addEventListener('abort', abort, { once: true });
  try {
    const client = tokenClient(pool, { tokenPath: spec.tokenPath ?? ctx.tokenPath });
    let users: VirtualUser[];
    try {
      users = await Promise.all(Array.from({ length: spec.connections }, () => spec.createUser(client)));
    } catch (error) {
      return emptyResult(spec, `set-up failed: ${describe(error)}`);
    }
    return await measure(spec, users, client, ctx);
  } finally {
    ctx.signal.removeEventListener('abort', abort);
    await pool.destroy();
  }
}

function tokenClient(pool: Pool, ctx: Pick<RunContext, 'tokenPath'>): TokenClient {
  return {
    post: async (form) => {
      const response = await pool.request({
        method: 'POST',
        path: ctx.tokenPath,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      return { status: response.statusCode, body: await response.body.text() };
    },
  };
}

interface Tally {
  completed: number;
  errors: number;
  recoveries: number;
  stoppedUsers: number;
  firstError: string | undefined;
  lastRecoveryError: string | undefined;
  readonly latenciesMs: number[];
}

async function measure(
  spec: ScenarioSpec,
  users: readonly VirtualUser[],
  client: TokenClient,
  ctx: RunContext,
): Promise<ScenarioResult> {
  const tally: Tally = {
    completed: 0,
    errors: 0,
    recoveries: 0,
    stoppedUsers: 0,
    firstError: undefined,
    lastRecoveryError: undefined,
    latenciesMs: [],
  };
  // CPU snapshots hug the window so set-up (argon2 for refresh chains) is excluded.
  const serverCpuBefore = processCpuSeconds(ctx.serverPid, ctx.ticksPerSecond);
  const benchCpuBefore = process.cpuUsage();
  const start = performance.now();
  const deadline = start + ctx.durationSeconds * 1000;
  await Promise.all(users.map((user) => driveUser(user, client, deadline, ctx.signal, tally)));
  const seconds = (performance.now() - start) / 1000;
  const serverCpuAfter = processCpuSeconds(ctx.serverPid, ctx.ticksPerSecond);
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const serverCpuSeconds =
    serverCpuBefore === undefined || serverCpuAfter === undefined ? undefined : serverCpuAfter - serverCpuBefore;
  const sorted = tally.latenciesMs.sort((a, b) => a - b);
  return {
    name: spec.name,
    description: spec.description,
    connections: spec.connections,
    seconds,
    completed: tally.completed,
    errors: tally.errors,
    firstError: tally.firstError,
    requestsPerSecond: tally.completed / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    serverCpuSeconds,
    requestsPerServerCpuSecond:
      serverCpuSeconds !== undefined && serverCpuSeconds > 0 ? tally.completed / serverCpuSeconds : undefined,
    benchCpuSeconds: (benchCpu.user + benchCpu.system) / 1e6,
    recoveries: tally.recoveries,
    stoppedUsers: tally.stoppedUsers,
    lastRecoveryError: tally.lastRecoveryError,
    setupError: undefined,
  };
}

/**
 * One row from several rounds of a scenario: totals over totals (requests,
 * seconds, CPU), latency percentiles as the worst round's (the rounds'
 * samples are not kept).
 */
export function mergeRounds(rounds: readonly ScenarioResult[]): ScenarioResult {
  const first = rounds[0]!;
  if (rounds.length === 1) return first;
  const measured = rounds.filter((r) => r.setupError === undefined);
  const sum = (pick: (r: ScenarioResult) => number) => measured.reduce((total, r) => total + pick(r), 0);
  const seconds = sum((r) => r.seconds);
  const completed = sum((r) => r.completed);
  const cpuKnown = measured.every((r) => r.serverCpuSeconds !== undefined);
  const serverCpuSeconds = cpuKnown ? sum((r) => r.serverCpuSeconds ?? 0) : undefined;
  return {
    ...first,
    description: `${first.description} (${measured.length} rounds)`,
    seconds,
    completed,
    errors: sum((r) => r.errors),
    firstError: rounds.find((r) => r.firstError !== undefined)?.firstError,
    requestsPerSecond: seconds > 0 ? completed / seconds : 0,
    p50Ms: Math.max(...measured.map((r) => r.p50Ms)),
    p99Ms: Math.max(...measured.map((r) => r.p99Ms)),
    serverCpuSeconds,
    requestsPerServerCpuSecond: serverCpuSeconds !== undefined && serverCpuSeconds > 0 ? completed / serverCpuSeconds : undefined,
    benchCpuSeconds: sum((r) => r.benchCpuSeconds),
    recoveries: sum((r) => r.recoveries),
    stoppedUsers: sum((r) => r.stoppedUsers),
    lastRecoveryError: rounds.find((r) => r.lastRecoveryError !== undefined)?.lastRecoveryError,
    setupError: measured.length === 0 ? first.setupError : undefined,
  };
}

/** One virtual user's loop: a request is started only before the deadline and always awaited. */
async function driveUser(
  user: VirtualUser,
  client: TokenClient,
  deadline: number,
  signal: AbortSignal,
  tally: Tally,
): Promise<void> {
  while (performance.now() < deadline && !signal.aborted) {
    const started = performance.now();
    let outcome: Outcome;
    try {
      const response = await client.post(user.nextRequest());
      tally.latenciesMs.push(performance.now() - started);
      tally.completed += 1;
      outcome = user.accept(response);
    } catch (error) {
      if (signal.aborted) return;
      outcome = { ok: false, detail: `request failed: ${describe(error)}` };
    }
    if (!outcome.ok && !(await recordFailure(user, client, outcome.detail, tally))) return;
  }
}

/** Counts a failure and lets the user recover; false when the user cannot go on. */
async function recordFailure(user: VirtualUser, client: TokenClient, detail: string, tally: Tally): Promise<boolean> {
  tally.errors += 1;
  tally.firstError ??= detail;
  if (user.recover === undefined) return true;
  tally.recoveries += 1;
  try {
    await user.recover(client);
    return true;
  } catch (error) {
    // Retrying a set-up that fails would only spin; this user stops and the
    // scenario runs on with fewer connections (reported as stoppedUsers).
    tally.stoppedUsers += 1;
    tally.lastRecoveryError = describe(error);
    return false;
  }
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sortedAscending: readonly number[], fraction: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(fraction * sortedAscending.length));
  return sortedAscending[rank - 1] ?? Number.NaN;
}

function emptyResult(spec: ScenarioSpec, setupError: string): ScenarioResult {
  return {
    name: spec.name,
    description: spec.description,
    connections: spec.connections,
    seconds: 0,
    completed: 0,
    errors: 0,
    firstError: undefined,
    requestsPerSecond: 0,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    serverCpuSeconds: undefined,
    requestsPerServerCpuSecond: undefined,
    benchCpuSeconds: 0,
    recoveries: 0,
    stoppedUsers: 0,
    lastRecoveryError: undefined,
    setupError,
  };
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
