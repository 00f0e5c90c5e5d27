import { Pool } from 'undici';
import { backendCpuBetween, type PostgresBackendCpu } from './postgres.js';
import { processCpuSeconds } from './proc-cpu.js';
import { RefreshLedger } from './refresh-ledger.js';

/** One answer from the token endpoint. */
export interface TokenResponse {
  readonly status: number;
  readonly body: string;
}

/** Posts form bodies to one tenant's token endpoint over a keep-alive pool; GETs other paths of the same origin. */
export interface TokenClient {
  post(form: URLSearchParams): Promise<TokenResponse>;
  get(request: GetRequest): Promise<TokenResponse>;
}

/** A measured GET (the Management API scenarios) instead of a token request. */
export interface GetRequest {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Did a measured request do what the scenario expects? */
export type Outcome = { readonly ok: true } | { readonly ok: false; readonly detail: string };

/** One virtual user: sends one request at a time, back to back. */
export interface VirtualUser {
  /** The next measured request: a form body for the token endpoint, or a GET. */
  nextRequest(): URLSearchParams | GetRequest;
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
  /** The scenario's users rotate refresh tokens: the run keeps a ledger and reports double spends. */
  readonly rotatesRefreshTokens?: boolean;
  /**
   * Unmeasured set-up per virtual user; it also warms up the connection and
   * the server's code paths. `ledger` is shared by the run's users.
   */
  createUser(client: TokenClient, ledger: RefreshLedger): Promise<VirtualUser>;
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
  /** Every node's CPU in the window, summed. */
  readonly serverCpuSeconds: number | undefined;
  /** Each node's share of that, in node order. */
  readonly serverCpuSecondsPerNode: readonly number[] | undefined;
  readonly requestsPerServerCpuSecond: number | undefined;
  /** PostgreSQL backends of the bench's database in the window (postgres.ts: a lower bound); undefined on SQLite or if not visible. */
  readonly postgresBackendCpuSeconds: number | undefined;
  /** Refresh scenarios: tokens handed out twice or redeemed twice (refresh-ledger.ts); undefined for other scenarios. */
  readonly doubleSpentRefreshTokens: number | undefined;
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
  /** One per node; each virtual user's requests go round-robin over them. */
  readonly origins: readonly string[];
  readonly tokenPath: string;
  /** The nodes' PIDs, in the order of `origins`. */
  readonly serverPids: readonly number[];
  readonly ticksPerSecond: number;
  /** Samples the PostgreSQL backends' CPU around each window (--db postgres). */
  readonly postgres: PostgresBackendCpu | undefined;
  readonly durationSeconds: number;
  /** Aborts when the server dies or the user interrupts. */
  readonly signal: AbortSignal;
  /** Called just outside the window's CPU snapshots, e.g. to profile the server (profile-pass.ts). */
  readonly aroundWindow?: { begin(): Promise<void>; end(): Promise<void> };
}

const REQUEST_TIMEOUT_MS = 30_000;

/** A virtual user with the client it sends through. */
interface Driven {
  readonly user: VirtualUser;
  readonly client: TokenClient;
}

/** Runs one scenario: set-up, then `connections` users back to back for the window. */
export async function runScenario(spec: ScenarioSpec, ctx: RunContext): Promise<ScenarioResult> {
  // One pool per node, each able to hold every user's connection: a user
  // has one request in flight, so no pool ever queues.
  const pools = ctx.origins.map(
    (origin) =>
      new Pool(origin, {
        connections: spec.connections,
        pipelining: 1,
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
      }),
  );
  const destroyAll = () => Promise.all(pools.map((pool) => pool.destroy()));
  // One listener per scenario (not one per request, which trips Node's
  // MaxListeners warning): destroying the pools fails every in-flight request.
  const abort = (): void => void destroyAll();
  ctx.signal.addEventListener('abort', abort, { once: true });
  try {
    const nodeClients = pools.map((pool) => tokenClient(pool, { tokenPath: spec.tokenPath ?? ctx.tokenPath }));
    const ledger = new RefreshLedger();
    let users: Driven[];
    try {
      users = await Promise.all(
        Array.from({ length: spec.connections }, async (_, index) => {
          const client = roundRobin(nodeClients, index);
          return { user: await spec.createUser(client, ledger), client };
        }),
      );
    } catch (error) {
      return emptyResult(spec, `set-up failed: ${describe(error)}`, ledger);
    }
    return await measure(spec, users, ledger, ctx);
  } finally {
    ctx.signal.removeEventListener('abort', abort);
    await destroyAll();
  }
}

/**
 * Each request to the next node in turn, starting at node `first`: a
 * user's consecutive requests land on different nodes (a refresh token
 * rotated by one node is presented to the next, the case a load balancer
 * without session affinity produces), and with users starting at staggered
 * nodes every node gets an even share. One node: that node's client as is.
 */
function roundRobin(clients: readonly TokenClient[], first: number): TokenClient {
  if (clients.length === 1) return clients[0]!;
  let next = first % clients.length;
  const nextClient = (): TokenClient => {
    const client = clients[next]!;
    next = (next + 1) % clients.length;
    return client;
  };
  return {
    post: (form) => nextClient().post(form),
    get: (request) => nextClient().get(request),
  };
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
    get: async (request) => {
      const response = await pool.request({ method: 'GET', path: request.path, headers: { ...request.headers } });
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

async function measure(spec: ScenarioSpec, users: readonly Driven[], ledger: RefreshLedger, ctx: RunContext): Promise<ScenarioResult> {
  const tally: Tally = {
    completed: 0,
    errors: 0,
    recoveries: 0,
    stoppedUsers: 0,
    firstError: undefined,
    lastRecoveryError: undefined,
    latenciesMs: [],
  };
  await ctx.aroundWindow?.begin();
  // CPU snapshots hug the window so set-up (argon2 for refresh chains) is
  // excluded; PostgreSQL's query round trip stays outside the node snapshots.
  const postgresBefore = await ctx.postgres?.sample();
  const serverCpuBefore = nodeCpuSeconds(ctx);
  const benchCpuBefore = process.cpuUsage();
  const start = performance.now();
  const deadline = start + ctx.durationSeconds * 1000;
  await Promise.all(users.map(({ user, client }) => driveUser(user, client, deadline, ctx.signal, tally)));
  const seconds = (performance.now() - start) / 1000;
  const serverCpuAfter = nodeCpuSeconds(ctx);
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const postgresAfter = await ctx.postgres?.sample();
  await ctx.aroundWindow?.end();
  const perNode = cpuBetween(serverCpuBefore, serverCpuAfter);
  const serverCpuSeconds = perNode?.reduce((total, seconds) => total + seconds, 0);
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
    serverCpuSecondsPerNode: perNode,
    requestsPerServerCpuSecond: serverCpuSeconds !== undefined && serverCpuSeconds > 0 ? tally.completed / serverCpuSeconds : undefined,
    postgresBackendCpuSeconds: backendCpuBetween(postgresBefore, postgresAfter),
    doubleSpentRefreshTokens: spec.rotatesRefreshTokens === true ? ledger.doubleSpentTokens : undefined,
    benchCpuSeconds: (benchCpu.user + benchCpu.system) / 1e6,
    recoveries: tally.recoveries,
    stoppedUsers: tally.stoppedUsers,
    lastRecoveryError: tally.lastRecoveryError,
    setupError: undefined,
  };
}

/** Every node's CPU seconds so far, in node order; undefined if any cannot be read. */
function nodeCpuSeconds(ctx: RunContext): number[] | undefined {
  const seconds: number[] = [];
  for (const pid of ctx.serverPids) {
    const cpu = processCpuSeconds(pid, ctx.ticksPerSecond);
    if (cpu === undefined) return undefined;
    seconds.push(cpu);
  }
  return seconds;
}

function cpuBetween(before: readonly number[] | undefined, after: readonly number[] | undefined): number[] | undefined {
  if (before === undefined || after === undefined) return undefined;
  return after.map((seconds, node) => seconds - before[node]!);
}

/** A sum over rounds that is unknown as soon as one round's value is. */
function sumKnown(values: readonly (number | undefined)[]): number | undefined {
  let total = 0;
  for (const value of values) {
    if (value === undefined) return undefined;
    total += value;
  }
  return total;
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
  const serverCpuSeconds = sumKnown(measured.map((r) => r.serverCpuSeconds));
  const perNodeKnown = measured.every((r) => r.serverCpuSecondsPerNode !== undefined);
  const serverCpuSecondsPerNode = perNodeKnown
    ? first.serverCpuSecondsPerNode?.map((_, node) => sum((r) => r.serverCpuSecondsPerNode?.[node] ?? 0))
    : undefined;
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
    serverCpuSecondsPerNode,
    requestsPerServerCpuSecond: serverCpuSeconds !== undefined && serverCpuSeconds > 0 ? completed / serverCpuSeconds : undefined,
    postgresBackendCpuSeconds: measured.length === 0 ? undefined : sumKnown(measured.map((r) => r.postgresBackendCpuSeconds)),
    // Over every round, set-up failures included: a double spend anywhere counts.
    doubleSpentRefreshTokens:
      first.doubleSpentRefreshTokens === undefined ? undefined : sumKnown(rounds.map((r) => r.doubleSpentRefreshTokens)),
    benchCpuSeconds: sum((r) => r.benchCpuSeconds),
    recoveries: sum((r) => r.recoveries),
    stoppedUsers: sum((r) => r.stoppedUsers),
    lastRecoveryError: rounds.find((r) => r.lastRecoveryError !== undefined)?.lastRecoveryError,
    setupError: measured.length === 0 ? first.setupError : undefined,
  };
}

/** One virtual user's loop: a request is started only before the deadline and always awaited. */
async function driveUser(user: VirtualUser, client: TokenClient, deadline: number, signal: AbortSignal, tally: Tally): Promise<void> {
  while (performance.now() < deadline && !signal.aborted) {
    const started = performance.now();
    let outcome: Outcome;
    try {
      const request = user.nextRequest();
      const response = await (request instanceof URLSearchParams ? client.post(request) : client.get(request));
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

function emptyResult(spec: ScenarioSpec, setupError: string, ledger: RefreshLedger): ScenarioResult {
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
    serverCpuSecondsPerNode: undefined,
    requestsPerServerCpuSecond: undefined,
    postgresBackendCpuSeconds: undefined,
    // Set-up starts the chains, so it can already have seen a token handed out twice.
    doubleSpentRefreshTokens: spec.rotatesRefreshTokens === true ? ledger.doubleSpentTokens : undefined,
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
