/**
 * Issue #6 §4: kill -9 under load.
 *
 * 1. Two `latchkey serve` nodes over one PostgreSQL database and one Redis.
 *    Refresh chains (an application with `reuse_interval: 60`) run
 *    concurrently, each sending its next refresh alternately to node A and
 *    node B; a few chains revoke their token through A; a private_key_jwt
 *    assertion, a TOTP code and an mfa_token are spent on A. Then A is
 *    SIGKILLed while requests to it are in flight. On B: every chain's last
 *    ACKNOWLEDGED refresh token still works (it is current, or the request in
 *    flight to A committed a rotation whose answer was lost, and the reuse
 *    interval hands back the replacement — docs/decisions.md "Refresh
 *    tokens"); every acknowledged revocation holds; the spent assertion, code
 *    and mfa_token are refused. A restarted A answers /readyz 200 within 10 s
 *    of being spawned and the chains go on through it; a consumed refresh
 *    token is refused; no refresh token was ever handed out twice.
 *    What happened to each request in flight at the kill is read from the
 *    database (the family's current or previous hash), so every outcome is
 *    asserted exactly, not merely tolerated.
 *
 * 2. One `latchkey serve` process on an SQLite file, SIGKILLed while refresh
 *    rotations (`reuse_interval` 0), family and access-token revocations and
 *    client-assertion spends are in flight, then restarted on the same data
 *    directory: nothing acknowledged is lost. A chain with nothing in flight
 *    at the kill refreshes with its last acknowledged token; an in-flight
 *    rotation is either not committed (the old token is current and works)
 *    or committed (the old token is a reused one: invalid_grant), as the
 *    file says; every acknowledged revocation and assertion spend holds.
 *
 * The first part is skipped, with the reason printed, without
 * LATCHKEY_TEST_DATABASE_URL and LATCHKEY_TEST_REDIS_URL.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request as httpRequest } from 'node:http';
import { after, before, describe, it, type TestContext } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import type { CryptoKey } from 'jose';
import pg from 'pg';
import { parseRefreshToken } from '../../src/tokens/refresh-token-format.js';
import { RunningProcess, tsxCliArgs, waitForOk, writeYamlConfig } from '../helpers/cli-process.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { ALICE, API, JWT_CLIENT, RESOURCE_SERVER, WEB, acmeFixture } from '../helpers/fixtures.js';
import { assertStatus, decodeJwt, postForm, postJson, type JsonResponse } from '../helpers/http.js';
import { MFA_OTP, MFA_RECOVERY_CODE, codeForStep } from '../helpers/mfa-otp.js';
import { JWT_BEARER, assertionClaims, signAssertion } from '../helpers/oauth-assertions.js';
import { postgresSkip } from '../helpers/postgres.js';
import { redisSkip } from '../helpers/redis.js';
import { freePort, type TenantInput } from '../helpers/server.js';

/** Refresh chains with a reuse interval: a retry of a rotation whose answer was lost gets the replacement. */
const RETRY_APP = { client_id: 'acme-crash-retry', client_secret: 'acme-crash-retry-secret-0000' };
/** A confidential client whose `mfa: always` asks OTP_USER for a second factor. */
const MFA_APP = { client_id: 'acme-crash-mfa', client_secret: 'acme-crash-mfa-secret-000000' };
const OTP_USER = { username: 'otis@acme.test', password: 'otis node crash password' };
const SIGN_IN = { audience: API, scope: 'offline_access read:sample' };
/** The issue's bound: a restarted node is ready within 10 s. */
const READY_BOUND_MS = 10_000;
/** Waiting for the load to reach a state is bounded; the bound is a hang guard, not a timing assertion. */
const LOAD_DEADLINE_MS = 30_000;

// ---------------------------------------------------------------------------
// Chains and the load that drives them.

type RequestKind = 'refresh' | 'revoke-family' | 'revoke-access' | 'assertion';

interface Flight {
  kind: RequestKind;
  /** Which node it was sent to. */
  node: string;
  /** Whether it had been written to the socket. */
  written: boolean;
  /** The access token or assertion it carries, for the kinds that spend one. */
  detail?: string;
}

interface Chain {
  index: number;
  /** Every refresh token this chain was given, in order; the last one is its last acknowledged token. */
  tokens: string[];
  /** Successful refreshes (200) so far. */
  acks: number;
  /** Revoke the family (through `revokeVia`) once `acks` reaches this. */
  revokeAt: number | undefined;
  /** The token whose revocation was acknowledged. */
  revoked: string | undefined;
  /** SQLite: an access token to revoke next (odd chains revoke each access token they get). */
  accessToRevoke: string | undefined;
  /** The request waiting for an answer. */
  inFlight: Flight | undefined;
  /** A request that got no answer (the node died under it). */
  lost: (Flight & { error: string }) | undefined;
  /** Snapshot of `inFlight` when the kill was sent. */
  inFlightAtKill: Flight | undefined;
}

function newChain(index: number, token: string, revokeAt?: number): Chain {
  return {
    index,
    tokens: [token],
    acks: 0,
    revokeAt,
    revoked: undefined,
    accessToRevoke: undefined,
    inFlight: undefined,
    lost: undefined,
    inFlightAtKill: undefined,
  };
}

const lastAck = (chain: Chain): string => chain.tokens.at(-1)!;

/** Why a request got no answer, as a client library sees it (connection reset, socket hang up). */
function requestFailure(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return `${(err as Error).message}${typeof code === 'string' ? ` (${code})` : ''}`;
}

/** Keep-alive connections for the load, as an HTTP client library keeps them. */
const loadAgent = new Agent({ keepAlive: true });
after(() => loadAgent.destroy());

/**
 * A form POST over node:http, so the caller learns when the request has been
 * written to the socket (`onWritten`), which fetch does not tell.
 */
function postTracked(url: string, form: Record<string, string>, onWritten: () => void): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const payload = new URLSearchParams(form).toString();
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent: loadAgent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.once('error', reject);
        res.once('close', () => {
          if (!res.complete) reject(Object.assign(new Error('the response was cut off'), { code: 'ECONNRESET' }));
        });
        res.once('end', () => {
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            /* not JSON: the assertions show `text` */
          }
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers))
            if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
          resolve({ status: res.statusCode ?? 0, headers, body, text });
        });
      },
    );
    req.once('error', reject);
    req.once('finish', onWritten);
    req.end(payload);
  });
}

/**
 * Concurrent loops, one per worker, each calling `step` until stopped. A
 * failed assertion inside a loop stops every loop and is rethrown by the
 * waits, so nothing hangs on a condition that can no longer come true.
 */
class Load {
  stopped = false;
  killed = false;
  failure: unknown;
  private killer: { condition: () => boolean; kill: () => void } | undefined;
  done: Promise<void> = Promise.resolve();
  private readonly waiters = new Set<() => void>();

  start(workers: number, step: (worker: number) => Promise<boolean>): void {
    this.done = Promise.all(
      Array.from({ length: workers }, async (_, worker) => {
        try {
          while (!this.stopped && (await step(worker))) this.notify();
        } catch (err) {
          this.failure ??= err;
          this.stopped = true;
        } finally {
          this.notify();
        }
      }),
    ).then(() => undefined);
  }

  notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves once `condition` holds (re-checked whenever a worker makes progress); fails past `timeoutMs` or when a worker failed. */
  async until(what: string, condition: () => boolean, timeoutMs = LOAD_DEADLINE_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (condition()) return;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`the load did not reach "${what}" within ${timeoutMs} ms`);
      // Woken by the workers' progress; the timer only bounds the wait.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, remaining);
        const waiters = this.waiters;
        function wake() {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        }
        waiters.add(wake);
      });
    }
  }

  /**
   * Once armed, the first time a request has just been written to its socket
   * and `condition` holds, stops the load (no new request) and calls `kill`
   * synchronously: the request just written, at least, is in flight.
   */
  armKill(condition: () => boolean, kill: () => void): void {
    this.killer = { condition, kill };
  }

  /** Called when a request has been written to its socket. */
  written(): void {
    if (!this.killer || this.killed || !this.killer.condition()) return;
    this.killed = true;
    this.stopped = true;
    this.killer.kill();
    this.notify();
  }

  /** Stops issuing new requests; requests already sent stay in flight. */
  stop(): void {
    this.stopped = true;
  }

  async finish(): Promise<void> {
    this.stop();
    await this.done;
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * Sends one request for `chain` through the load, recording it as in flight
 * (and when it has been written); an answer is returned, a request without
 * one (connection reset) is recorded in `chain.lost` and gives `undefined`,
 * as does a request not sent because the load has stopped.
 */
async function send(
  load: Load,
  chain: Chain,
  kind: RequestKind,
  node: string,
  url: string,
  form: Record<string, string>,
  detail?: string,
): Promise<JsonResponse | undefined> {
  // A step that began before the kill (an assertion being signed) sends nothing after it.
  if (load.stopped) return undefined;
  const flight: Flight = { kind, node, written: false, ...(detail === undefined ? {} : { detail }) };
  chain.inFlight = flight;
  try {
    return await postTracked(url, form, () => {
      flight.written = true;
      load.written();
    });
  } catch (err) {
    chain.lost = { ...flight, error: requestFailure(err) };
    return undefined;
  } finally {
    chain.inFlight = undefined;
  }
}

/** Every refresh token handed out in a 200, to prove none was handed out twice. */
class IssuedTokens {
  private readonly seen = new Map<string, string>();
  readonly duplicates: string[] = [];

  add(token: unknown, where: string): string {
    assert.equal(typeof token, 'string', `${where}: a refresh token`);
    const previous = this.seen.get(token as string);
    if (previous !== undefined) this.duplicates.push(`${where} handed out the refresh token first handed out by ${previous}`);
    else this.seen.set(token as string, where);
    return token as string;
  }

  get size(): number {
    return this.seen.size;
  }
}

/** The database's view of a family, by the hashes of a chain's tokens. */
interface FamilyRow {
  current_hash: string;
  previous_hash: string | null;
  revoked_at: unknown;
}

type FamilyState = 'current' | 'rotated once (answer lost)' | 'revoked' | 'lost';

/** Where the chain's last acknowledged token stands in its family's row. */
function familyState(row: FamilyRow | undefined, token: string): FamilyState {
  const hash = parseRefreshToken(token)!.secretHash;
  if (!row) return 'lost';
  if (row.revoked_at !== null) return 'revoked';
  if (row.current_hash === hash) return 'current';
  if (row.previous_hash === hash) return 'rotated once (answer lost)';
  return 'lost';
}

const familyIdOf = (token: string): string => parseRefreshToken(token)!.familyId;

const countBy = <T>(items: T[], key: (item: T) => string): string =>
  Object.entries(
    items.reduce<Record<string, number>>((acc, item) => {
      acc[key(item)] = (acc[key(item)] ?? 0) + 1;
      return acc;
    }, {}),
  )
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ') || 'none';

// ---------------------------------------------------------------------------
// 1. Two nodes over PostgreSQL and Redis.

const CLUSTER_SUITE = 'node crash: kill -9 one of two nodes under load (PostgreSQL + Redis)';
const CHAINS = 12;
/** Chains 0..REVOKING-1 revoke their family through A, at different points of the load. */
const REVOKING = 3;
/** Acknowledged refreshes every live chain has before A is killed. */
const STEPS_BEFORE_KILL = 20;
/** Requests in flight to A at the kill, at least. */
const IN_FLIGHT_AT_KILL = 3;

async function clusterTenant(): Promise<{ tenant: TenantInput; jwtClientKey: CryptoKey; jwtClientKid: string }> {
  const fixture = await acmeFixture();
  const { tenant } = fixture;
  return {
    ...fixture,
    tenant: {
      ...tenant,
      applications: [
        ...(tenant.applications ?? []),
        {
          ...RETRY_APP,
          token_endpoint_auth_method: 'client_secret_post',
          grant_types: ['password', 'refresh_token'],
          refresh_token: { reuse_interval: 60 },
        },
        {
          ...MFA_APP,
          token_endpoint_auth_method: 'client_secret_post',
          grant_types: ['password', 'refresh_token', MFA_OTP, MFA_RECOVERY_CODE],
          mfa: 'always',
        },
      ],
      users: [
        ...(tenant.users ?? []),
        { connection: 'Username-Password-Authentication', username: OTP_USER.username, password: OTP_USER.password },
      ],
    },
  };
}

describe(CLUSTER_SUITE, { skip: postgresSkip(CLUSTER_SUITE) || redisSkip(CLUSTER_SUITE) }, () => {
  let cluster: Cluster;
  let jwtClientKey: CryptoKey;
  let jwtClientKid: string;
  let a: ClusterNode;
  let b: ClusterNode;

  before(async () => {
    const fixture = await clusterTenant();
    jwtClientKey = fixture.jwtClientKey;
    jwtClientKid = fixture.jwtClientKid;
    cluster = await startCluster({ nodes: 2, tenants: [fixture.tenant], redis: true });
    [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
  });
  after(async () => {
    await cluster?.close();
  });

  /** Appends every node's output to a failure message. */

  const withLogs = (work: () => Promise<void>): Promise<void> => cluster.withLogs(work);

  const refresh = (node: ClusterNode, token: string) =>
    postForm(node.at('/oauth/token'), { grant_type: 'refresh_token', refresh_token: token, ...RETRY_APP });
  const presentAssertion = (node: ClusterNode, assertion: string) =>
    postForm(node.at('/oauth/token'), {
      grant_type: 'client_credentials',
      audience: API,
      client_id: JWT_CLIENT.client_id,
      client_assertion_type: JWT_BEARER,
      client_assertion: assertion,
    });
  const signFresh = () =>
    signAssertion(assertionClaims(JWT_CLIENT.client_id, cluster.issuer(), new Date()), { key: jwtClientKey, kid: jwtClientKid });
  const mfaPassword = (node: ClusterNode) =>
    postForm(node.at('/oauth/token'), {
      grant_type: 'password',
      username: OTP_USER.username,
      password: OTP_USER.password,
      ...SIGN_IN,
      ...MFA_APP,
    });
  const otpGrant = (node: ClusterNode, mfaToken: string, otp: string) =>
    postForm(node.at('/oauth/token'), { grant_type: MFA_OTP, mfa_token: mfaToken, otp, ...MFA_APP });
  const recoveryGrant = (node: ClusterNode, mfaToken: string, recoveryCode: string) =>
    postForm(node.at('/oauth/token'), { grant_type: MFA_RECOVERY_CODE, mfa_token: mfaToken, recovery_code: recoveryCode, ...MFA_APP });

  async function mfaRequired(node: ClusterNode, enrollment: boolean): Promise<string> {
    const res = await mfaPassword(node);
    assertStatus(res, 403, 'mfa_required', `password grant through ${MFA_APP.client_id} on node ${node.index}`);
    assert.equal(res.body.error_reason, enrollment ? 'mfa_enrollment_required' : undefined, res.text);
    return res.body.mfa_token as string;
  }

  async function families(): Promise<Map<string, FamilyRow>> {
    const client = new pg.Client({ connectionString: cluster.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<FamilyRow & { id: string }>(
        'select id, current_hash, previous_hash, revoked_at from refresh_token_families',
      );
      return new Map(rows.map((row) => [row.id, row]));
    } finally {
      await client.end();
    }
  }

  it(`SIGKILL of node A with requests in flight: every acknowledged rotation and revocation holds on B, spent assertions, codes and mfa_tokens stay spent, A is ready within ${READY_BOUND_MS / 1000} s of its restart and the chains go on through it`, (t: TestContext) =>
    withLogs(async () => {
      const issued = new IssuedTokens();
      const nodeName = (node: ClusterNode) => (node === a ? 'A' : 'B');

      // The TOTP factor, enrolled through A and confirmed on B (code of step s0).
      const enrollToken = await mfaRequired(a, true);
      const associated = await postJson(
        a.at('/mfa/associate'),
        { ...MFA_APP, authenticator_types: ['otp'] },
        { authorization: `Bearer ${enrollToken}` },
      );
      assertStatus(associated, 200, undefined, 'associate otp on A');
      const otpSecret = associated.body.secret as string;
      const recoveryCode = (associated.body.recovery_codes as string[])[0]!;
      const s0 = Math.floor(Date.now() / 30_000);
      assertStatus(await otpGrant(b, enrollToken, codeForStep(otpSecret, s0)), 200, undefined, 'confirming the enrollment on B');

      // K refresh chains, signed in alternately on A and B.
      const chains: Chain[] = [];
      for (let i = 0; i < CHAINS; i++) {
        const node = i % 2 === 0 ? a : b;
        const res = await postForm(node.at('/oauth/token'), {
          grant_type: 'password',
          username: ALICE.username,
          password: ALICE.password,
          ...SIGN_IN,
          ...RETRY_APP,
        });
        assertStatus(res, 200, undefined, `password grant ${i} on ${nodeName(node)}`);
        chains.push(newChain(i, issued.add(res.body.refresh_token, `chain ${i} sign-in`), i < REVOKING ? 2 + 2 * i : undefined));
      }

      const load = new Load();
      load.start(CHAINS, async (i) => {
        const chain = chains[i]!;
        if (chain.revokeAt === chain.acks) {
          const token = lastAck(chain);
          const res = await send(load, chain, 'revoke-family', 'A', a.at('/oauth/revoke'), { token, ...RETRY_APP });
          if (!res) return false;
          assertStatus(res, 200, undefined, `chain ${i}: revocation on A`);
          chain.revoked = token;
          return false;
        }
        // Alternately A and B: even steps on A, odd steps on B.
        const node = chain.acks % 2 === 0 ? a : b;
        const res = await send(load, chain, 'refresh', nodeName(node), node.at('/oauth/token'), {
          grant_type: 'refresh_token',
          refresh_token: lastAck(chain),
          ...RETRY_APP,
        });
        if (!res) return false;
        assertStatus(res, 200, undefined, `chain ${i}: refresh ${chain.acks + 1} on ${nodeName(node)}`);
        chain.tokens.push(issued.add(res.body.refresh_token, `chain ${i} refresh ${chain.acks + 1} on ${nodeName(node)}`));
        chain.acks++;
        return true;
      });

      // While the load runs: a client assertion, a TOTP code and an mfa_token are spent on A (acknowledged).
      const spentAssertion = await signFresh();
      assertStatus(await presentAssertion(a, spentAssertion), 200, undefined, 'the client assertion on A');
      const spentCode = codeForStep(otpSecret, s0 + 1);
      const spentMfaToken = await mfaRequired(a, false);
      assertStatus(await otpGrant(a, spentMfaToken, spentCode), 200, undefined, 'the TOTP code on A');

      const live = chains.filter((c) => c.revokeAt === undefined);
      await load.until(`${REVOKING} revocations acknowledged and ${STEPS_BEFORE_KILL} refreshes on every other chain`, () =>
        chains.every((c) => (c.revokeAt === undefined ? c.acks >= STEPS_BEFORE_KILL : c.revoked !== undefined)),
      );
      // SIGKILL the moment a request has just been written to A with at least IN_FLIGHT_AT_KILL requests to A unanswered:
      // no new request from then on; those already sent stay in flight while A dies.
      let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
      load.armKill(
        () => chains.filter((c) => c.inFlight?.node === 'A' && c.inFlight.written).length >= IN_FLIGHT_AT_KILL,
        () => {
          for (const chain of chains) chain.inFlightAtKill = chain.inFlight && { ...chain.inFlight };
          exited = a.kill('SIGKILL');
        },
      );
      await load.until(`the kill, with ${IN_FLIGHT_AT_KILL} requests in flight to A`, () => load.killed);
      assert.equal((await exited!).signal, 'SIGKILL', 'A died of the SIGKILL');
      await load.finish();

      const inFlight = chains.filter((c) => c.inFlightAtKill !== undefined);
      const lost = chains.filter((c) => c.lost !== undefined);
      for (const chain of lost) {
        assert.equal(chain.lost!.node, 'A', `chain ${chain.index}: only requests to A go unanswered: ${JSON.stringify(chain.lost)}`);
        assert.ok(
          chain.inFlightAtKill,
          `chain ${chain.index}: a request without an answer was in flight at the kill: ${JSON.stringify(chain.lost)}`,
        );
      }
      assert.ok(lost.length > 0, `requests were in flight to A at the kill (${inFlight.length}) and some went unanswered`);

      // Replays on B first (the TOTP code is valid for a minute or so).
      const replayedAssertion = await presentAssertion(b, spentAssertion);
      assertStatus(replayedAssertion, 401, 'invalid_client', 'the client assertion spent on A, replayed on B after the crash');
      const freshMfaToken = await mfaRequired(b, false);
      const replayedCode = await otpGrant(b, freshMfaToken, spentCode);
      assertStatus(replayedCode, 400, 'invalid_grant', 'the TOTP code spent on A, replayed on B with a new mfa_token');
      assert.match(String(replayedCode.body.error_description), /already been used/, replayedCode.text);
      const replayedMfaToken = await recoveryGrant(b, spentMfaToken, recoveryCode);
      assertStatus(replayedMfaToken, 400, 'invalid_grant', 'the mfa_token spent on A, presented on B');
      assert.match(String(replayedMfaToken.body.error_description), /mfa_token has already been used/, replayedMfaToken.text);
      // Controls: B takes a fresh assertion, and the unspent mfa_token with the recovery code.
      assertStatus(await presentAssertion(b, await signFresh()), 200, undefined, 'a fresh client assertion on B');
      assertStatus(
        await recoveryGrant(b, freshMfaToken, recoveryCode),
        200,
        undefined,
        'the unspent mfa_token with the recovery code on B',
      );

      // What the database holds for each chain, read before any chain is touched again.
      const rows = await families();
      const states = new Map(chains.map((c) => [c, familyState(rows.get(familyIdOf(lastAck(c))), lastAck(c))]));
      for (const chain of chains) {
        const state = states.get(chain)!;
        const what = `chain ${chain.index} (${chain.acks} refreshes; in flight at the kill: ${JSON.stringify(chain.inFlightAtKill)}; lost: ${JSON.stringify(chain.lost)})`;
        if (chain.revoked !== undefined) assert.equal(state, 'revoked', `${what}: its acknowledged revocation is in the database`);
        // Only a request to A left without an answer may have committed a rotation the chain never heard of.
        else if (chain.lost !== undefined) assert.ok(state === 'current' || state === 'rotated once (answer lost)', `${what}: ${state}`);
        else assert.equal(state, 'current', `${what}: its last acknowledged token is the family's current one`);
      }

      // On B: every live chain goes on from its last acknowledged token; revoked chains stay refused.
      for (const chain of live) {
        const res = await refresh(b, lastAck(chain));
        assertStatus(res, 200, undefined, `chain ${chain.index} (${states.get(chain)}): its last acknowledged token on B after the crash`);
        chain.tokens.push(issued.add(res.body.refresh_token, `chain ${chain.index} on B after the crash`));
      }
      for (const chain of chains.filter((c) => c.revoked !== undefined)) {
        assertStatus(
          await refresh(b, chain.revoked!),
          400,
          'invalid_grant',
          `chain ${chain.index}: its token revoked on A, on B after the crash`,
        );
      }

      // A again: spawned, then /readyz 200 within the issue's bound (the harness polls /readyz every 50 ms).
      const restartStarted = performance.now();
      await a.restart();
      const readyMs = performance.now() - restartStarted;
      assert.ok(
        readyMs <= READY_BOUND_MS,
        `A answered /readyz 200 ${Math.round(readyMs)} ms after its restart, above the ${READY_BOUND_MS} ms bound`,
      );

      // The chains go on through A, then B again.
      for (const node of [a, b]) {
        for (const chain of live) {
          const res = await refresh(node, lastAck(chain));
          assertStatus(res, 200, undefined, `chain ${chain.index} on ${nodeName(node)} after A's restart`);
          chain.tokens.push(issued.add(res.body.refresh_token, `chain ${chain.index} on ${nodeName(node)} after A's restart`));
        }
      }
      // Everything spent stays spent on the restarted node.
      for (const chain of chains.filter((c) => c.revoked !== undefined)) {
        assertStatus(await refresh(a, chain.revoked!), 400, 'invalid_grant', `chain ${chain.index}: its revoked token on the restarted A`);
      }
      assertStatus(await presentAssertion(a, spentAssertion), 401, 'invalid_client', 'the spent client assertion on the restarted A');
      const replayedOnA = await recoveryGrant(a, spentMfaToken, recoveryCode);
      assertStatus(replayedOnA, 400, 'invalid_grant', 'the spent mfa_token on the restarted A');
      // A consumed refresh token (two rotations old, outside any reuse interval) is refused, and revokes its family.
      const victim = live[0]!;
      assertStatus(
        await refresh(a, victim.tokens.at(-3)!),
        400,
        'invalid_grant',
        `chain ${victim.index}: a consumed refresh token on the restarted A`,
      );
      assertStatus(
        await refresh(b, lastAck(victim)),
        400,
        'invalid_grant',
        `chain ${victim.index}: its current token after the reuse, on B`,
      );

      assert.deepEqual(issued.duplicates, [], 'no refresh token was handed out twice');

      t.diagnostic(
        `${CHAINS} chains (${REVOKING} revoked through A), ${chains.reduce((n, c) => n + c.acks, 0)} acknowledged refreshes before the kill; ${issued.size} distinct refresh tokens handed out, no duplicates`,
      );
      t.diagnostic(
        `in flight at the kill: ${inFlight.length} (${countBy(inFlight, (c) => `${c.inFlightAtKill!.kind} to ${c.inFlightAtKill!.node}`)}); unanswered: ${lost.length} (${countBy(lost, (c) => c.lost!.error)})`,
      );
      t.diagnostic(`database after the kill, in-flight chains: ${countBy(inFlight, (c) => states.get(c)!)}`);
      t.diagnostic(
        `each in-flight chain: ${inFlight.map((c) => `#${c.index} → ${c.inFlightAtKill!.node}${c.inFlightAtKill!.written ? '' : ' (not yet written)'}: ${c.lost ? 'unanswered' : 'answered'}, ${states.get(c)}`).join('; ')}`,
      );
      t.diagnostic(`A ready ${Math.round(readyMs)} ms after its restart (bound ${READY_BOUND_MS} ms)`);
    }));
});

// ---------------------------------------------------------------------------
// 2. One SQLite node.

const SQLITE_CHAINS = 16;
/** Chains 0..SQLITE_REVOKING-1 revoke their family at different points of the load. */
const SQLITE_REVOKING = 4;
/** Workers spending a new client assertion at every step. */
const ASSERTION_WORKERS = 2;
const SQLITE_STEPS_BEFORE_KILL = 25;
const SQLITE_IN_FLIGHT_AT_KILL = 6;

describe('node crash: kill -9 a single SQLite node during writes', () => {
  const masterKey = randomBytes(32).toString('base64');
  let dir: string;
  let dbFile: string;
  let configFile: string;
  let baseUrl: string;
  let jwtClientKey: CryptoKey;
  let jwtClientKid: string;
  const processes: RunningProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-crash-'));
    dbFile = join(dir, 'data', 'latchkey.db');
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const fixture = await acmeFixture();
    jwtClientKey = fixture.jwtClientKey;
    jwtClientKid = fixture.jwtClientKid;
    configFile = writeYamlConfig(dir, {
      public_url: baseUrl,
      listen: { host: '127.0.0.1', port },
      database: `sqlite:${dbFile}`,
      tenants: [fixture.tenant],
    });
  });
  after(async () => {
    for (const proc of processes) await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const serve = async (): Promise<{ proc: RunningProcess; readyMs: number }> => {
    const started = performance.now();
    const proc = RunningProcess.start(process.execPath, tsxCliArgs(['serve', '--config', configFile]), {
      env: { LATCHKEY_MASTER_KEY: masterKey },
    });
    processes.push(proc);
    await waitForOk(`${baseUrl}/readyz`, 60_000, proc);
    return { proc, readyMs: performance.now() - started };
  };
  const describeAll = () =>
    processes
      .map((proc, i) => `=== process ${i + 1} ===\n${proc.describe()}`)
      .join('\n')
      .slice(-30_000);
  const at = (path: string) => `${baseUrl}/acme${path}`;
  const refresh = (token: string) => postForm(at('/oauth/token'), { grant_type: 'refresh_token', refresh_token: token, ...WEB });
  const introspect = (token: string) => postForm(at('/oauth/introspect'), { token, ...RESOURCE_SERVER });
  const assertionForm = (assertion: string) => ({
    grant_type: 'client_credentials',
    audience: API,
    client_id: JWT_CLIENT.client_id,
    client_assertion_type: JWT_BEARER,
    client_assertion: assertion,
  });
  const presentAssertion = (assertion: string) => postForm(at('/oauth/token'), assertionForm(assertion));

  it('SIGKILL during refresh rotations, revocations and assertion spends, then a restart on the same file: nothing acknowledged is lost, nothing spent is accepted again', (t: TestContext) =>
    (async () => {
      const issued = new IssuedTokens();
      const first = await serve();

      const chains: Chain[] = [];
      for (let i = 0; i < SQLITE_CHAINS; i++) {
        const res = await postForm(at('/oauth/token'), {
          grant_type: 'password',
          username: ALICE.username,
          password: ALICE.password,
          ...SIGN_IN,
          ...WEB,
        });
        assertStatus(res, 200, undefined, `password grant ${i}`);
        chains.push(newChain(i, issued.add(res.body.refresh_token, `chain ${i} sign-in`), i < SQLITE_REVOKING ? 3 + 2 * i : undefined));
      }
      /** Access tokens whose revocation was acknowledged, and the latest unrevoked one of each even chain (controls). */
      const revokedAccess: string[] = [];
      const assertionWorkers = Array.from({ length: ASSERTION_WORKERS }, (_, i) => newChain(SQLITE_CHAINS + i, '', undefined));
      /** Assertions whose spend was acknowledged (200). */
      const spentAssertions: string[] = [];
      const lastAccess = new Map<Chain, string>();

      const load = new Load();
      load.start(SQLITE_CHAINS + ASSERTION_WORKERS, async (i) => {
        if (i >= SQLITE_CHAINS) {
          const worker = assertionWorkers[i - SQLITE_CHAINS]!;
          const assertion = await signAssertion(assertionClaims(JWT_CLIENT.client_id, `${baseUrl}/acme/`, new Date()), {
            key: jwtClientKey,
            kid: jwtClientKid,
          });
          const res = await send(load, worker, 'assertion', 'sqlite', at('/oauth/token'), assertionForm(assertion), assertion);
          if (!res) return false;
          assertStatus(res, 200, undefined, `assertion worker ${i - SQLITE_CHAINS}`);
          spentAssertions.push(assertion);
          worker.acks++;
          return true;
        }
        const chain = chains[i]!;
        if (chain.accessToRevoke !== undefined) {
          const token = chain.accessToRevoke;
          const res = await send(load, chain, 'revoke-access', 'sqlite', at('/oauth/revoke'), { token, ...WEB }, token);
          if (!res) return false;
          assertStatus(res, 200, undefined, `chain ${i}: revoking an access token`);
          revokedAccess.push(token);
          chain.accessToRevoke = undefined;
          return true;
        }
        if (chain.revokeAt === chain.acks) {
          const token = lastAck(chain);
          const res = await send(load, chain, 'revoke-family', 'sqlite', at('/oauth/revoke'), { token, ...WEB });
          if (!res) return false;
          assertStatus(res, 200, undefined, `chain ${i}: revoking the family`);
          chain.revoked = token;
          return false;
        }
        const res = await send(load, chain, 'refresh', 'sqlite', at('/oauth/token'), {
          grant_type: 'refresh_token',
          refresh_token: lastAck(chain),
          ...WEB,
        });
        if (!res) return false;
        assertStatus(res, 200, undefined, `chain ${i}: refresh ${chain.acks + 1}`);
        chain.tokens.push(issued.add(res.body.refresh_token, `chain ${i} refresh ${chain.acks + 1}`));
        chain.acks++;
        // Odd chains revoke every access token they get (RFC 7009), in the next step.
        if (i % 2 === 1) chain.accessToRevoke = res.body.access_token as string;
        else lastAccess.set(chain, res.body.access_token as string);
        return true;
      });

      try {
        await load.until(
          `${SQLITE_REVOKING} family revocations acknowledged and ${SQLITE_STEPS_BEFORE_KILL} refreshes on every other chain`,
          () => chains.every((c) => (c.revokeAt === undefined ? c.acks >= SQLITE_STEPS_BEFORE_KILL : c.revoked !== undefined)),
        );
        // SIGKILL the moment a request has just been written with at least SQLITE_IN_FLIGHT_AT_KILL requests unanswered.
        const workers = [...chains, ...assertionWorkers];
        load.armKill(
          () => workers.filter((c) => c.inFlight?.written).length >= SQLITE_IN_FLIGHT_AT_KILL,
          () => {
            for (const chain of workers) chain.inFlightAtKill = chain.inFlight && { ...chain.inFlight };
            first.proc.child.kill('SIGKILL');
          },
        );
        await load.until(`the kill, with ${SQLITE_IN_FLIGHT_AT_KILL} requests in flight`, () => load.killed);
        assert.equal((await first.proc.exited).signal, 'SIGKILL', 'the server died of the SIGKILL');
        await load.finish();
      } catch (err) {
        load.stop();
        await load.done;
        if (err instanceof Error) err.message += `\n\n${describeAll()}`;
        throw err;
      }

      const all = [...chains, ...assertionWorkers];
      const inFlight = all.filter((c) => c.inFlightAtKill !== undefined);
      const lost = all.filter((c) => c.lost !== undefined);
      for (const chain of lost)
        assert.ok(
          chain.inFlightAtKill,
          `worker ${chain.index}: a request without an answer was in flight at the kill: ${JSON.stringify(chain.lost)}`,
        );
      assert.ok(lost.length > 0, `requests were in flight at the kill (${inFlight.length}) and some went unanswered`);

      // The same data directory, a new process.
      const second = await serve();
      try {
        // What the file holds, read before any chain is touched again.
        const sqlite = new SqliteDatabase(dbFile, { readonly: true, fileMustExist: true });
        let rows: Map<string, FamilyRow>;
        let denylisted: Set<string>;
        try {
          rows = new Map(
            (
              sqlite.prepare('select id, current_hash, previous_hash, revoked_at from refresh_token_families').all() as Array<
                FamilyRow & { id: string }
              >
            ).map((r) => [r.id, r]),
          );
          denylisted = new Set((sqlite.prepare('select jti from revoked_access_tokens').all() as Array<{ jti: string }>).map((r) => r.jti));
        } finally {
          sqlite.close();
        }
        const states = new Map(chains.map((c) => [c, familyState(rows.get(familyIdOf(lastAck(c))), lastAck(c))]));
        const outcomes: string[] = [];

        for (const chain of chains) {
          const state = states.get(chain)!;
          const flight = chain.inFlightAtKill;
          const what = `chain ${chain.index} (${chain.acks} refreshes; in flight at the kill: ${flight ? flight.kind : 'nothing'}; lost: ${JSON.stringify(chain.lost)}; in the file: ${state})`;
          if (chain.revoked !== undefined) {
            // An acknowledged revocation holds.
            assert.equal(state, 'revoked', what);
            assertStatus(await refresh(chain.revoked), 400, 'invalid_grant', `${what}: its revoked token`);
            continue;
          }
          if (chain.lost?.kind === 'refresh' && state === 'rotated once (answer lost)') {
            // The rotation committed and its answer was lost: with no reuse interval the old token is a reused one.
            outcomes.push('refresh: committed, answer lost');
            assertStatus(await refresh(lastAck(chain)), 400, 'invalid_grant', `${what}: the token its committed rotation replaced`);
            continue;
          }
          if (chain.lost?.kind === 'revoke-family' && state === 'revoked') {
            outcomes.push('revoke-family: committed, answer lost');
            assertStatus(await refresh(lastAck(chain)), 400, 'invalid_grant', `${what}: the token whose revocation committed`);
            continue;
          }
          // Nothing in flight, or what was in flight did not commit: the last acknowledged token is the current one.
          if (flight?.kind === 'refresh' || flight?.kind === 'revoke-family')
            outcomes.push(`${flight.kind}: ${chain.lost ? 'not committed' : 'answered'}`);
          assert.equal(state, 'current', `${what}: its last acknowledged token is the family's current one`);
          const res = await refresh(lastAck(chain));
          assertStatus(res, 200, undefined, `${what}: its last acknowledged token after the restart`);
          chain.tokens.push(issued.add(res.body.refresh_token, `chain ${chain.index} after the restart`));
        }

        // Access tokens: every acknowledged revocation holds; one in flight is as the file says; an unrevoked one is active.
        for (const token of revokedAccess) {
          const jti = decodeJwt(token).payload.jti as string;
          assert.ok(denylisted.has(jti), `an acknowledged access-token revocation (jti ${jti}) is in the file`);
          const res = await introspect(token);
          assertStatus(res, 200, undefined, 'introspecting a revoked access token');
          assert.equal(res.body.active, false, `an access token whose revocation was acknowledged: ${res.text}`);
        }
        for (const chain of chains.filter((c) => c.inFlightAtKill?.kind === 'revoke-access')) {
          const token = chain.inFlightAtKill!.detail!;
          const committed = denylisted.has(decodeJwt(token).payload.jti as string);
          outcomes.push(`revoke-access: ${chain.lost === undefined ? 'answered' : committed ? 'committed, answer lost' : 'not committed'}`);
          if (chain.lost === undefined)
            assert.ok(committed, `chain ${chain.index}: an acknowledged access-token revocation is in the file`);
          const res = await introspect(token);
          assert.equal(
            res.body.active,
            !committed,
            `chain ${chain.index}: the access token whose revocation was in flight (${committed ? 'in' : 'not in'} the file): ${res.text}`,
          );
        }
        for (const [chain, token] of lastAccess) {
          const res = await introspect(token);
          assert.equal(res.body.active, true, `chain ${chain.index}: its latest access token, never revoked: ${res.text}`);
        }

        // Spent client assertions stay spent.
        for (const assertion of spentAssertions) {
          assertStatus(
            await presentAssertion(assertion),
            401,
            'invalid_client',
            'a client assertion spent before the kill, after the restart',
          );
        }
        for (const worker of assertionWorkers.filter((w) => w.inFlightAtKill !== undefined)) {
          const res = await presentAssertion(worker.inFlightAtKill!.detail!);
          outcomes.push(
            `assertion: ${worker.lost === undefined ? 'answered' : res.status === 200 ? 'not committed' : 'committed, answer lost'}`,
          );
          if (worker.lost === undefined) assertStatus(res, 401, 'invalid_client', 'an assertion answered at the kill, presented again');
          else
            assert.ok(
              res.status === 200 || (res.status === 401 && res.body.error === 'invalid_client'),
              `the assertion in flight at the kill: ${res.text}`,
            );
        }

        assert.deepEqual(issued.duplicates, [], 'no refresh token was handed out twice');
        const acked = chains.reduce((n, c) => n + c.acks, 0);
        t.diagnostic(
          `${SQLITE_CHAINS} chains (${SQLITE_REVOKING} revoked), ${acked} acknowledged refreshes, ${revokedAccess.length} acknowledged access-token revocations, ${spentAssertions.length} acknowledged assertion spends before the kill; ${issued.size} distinct refresh tokens, no duplicates`,
        );
        t.diagnostic(
          `in flight at the kill: ${inFlight.length} (${countBy(inFlight, (c) => c.inFlightAtKill!.kind)}); unanswered: ${lost.length} (${countBy(lost, (c) => c.lost!.error)})`,
        );
        t.diagnostic(`in-flight outcomes, from the file: ${countBy(outcomes, (o) => o)}`);
        t.diagnostic(`first start ready in ${Math.round(first.readyMs)} ms; after the kill, ready in ${Math.round(second.readyMs)} ms`);
      } catch (err) {
        if (err instanceof Error) err.message += `\n\n${describeAll()}`;
        throw err;
      }
    })());
});
