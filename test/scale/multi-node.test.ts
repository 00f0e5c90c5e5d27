/**
 * Issue #6 §3: several stateless nodes over one PostgreSQL database (and one
 * Redis), each a real `latchkey serve` process on its own loopback port with
 * the same configuration, master key and public_url. What one node does,
 * every other node must honour at once:
 *
 * - nodes started together on an empty database take turns migrating and
 *   applying the configuration: one schema, one signing key per algorithm;
 * - a parallel burst of wrong passwords spread over the nodes lets exactly
 *   the threshold through to the password check;
 * - a brute-force lock made through node A holds on node B, and
 *   `latchkey users unblock` lifts it on every node;
 * - of 20 concurrent refreshes of one refresh token spread over the nodes,
 *   exactly one succeeds, in each of 100 rounds; the 19 losers are 400
 *   invalid_grant, and (docs/decisions.md "Refresh tokens": a concurrent
 *   loser is a reuse) the family is revoked, so the winner's new token is
 *   refused too;
 * - a private_key_jwt client assertion used on A is invalid_client on B;
 * - a TOTP code used on A is refused on B; an mfa_token used on A is
 *   refused on B;
 * - a key rotated with `latchkey keys rotate` is in B's JWKS within
 *   KEY_CACHE_SECONDS + 5 s, and a token A signs with it verifies against
 *   B's JWKS and is active in B's introspection;
 * - a refresh token revoked on A is refused on B at once.
 *
 * The whole list runs on two clusters: three nodes sharing Redis for the
 * counters and single-use keys, and two nodes where PostgreSQL does both (no
 * `redis` key). Skipped, with the reason printed, without
 * LATCHKEY_TEST_DATABASE_URL (and, for the first, LATCHKEY_TEST_REDIS_URL).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type CryptoKey, type JSONWebKeySet } from 'jose';
import { KEY_CACHE_SECONDS } from '../../src/tokens/signing-keys.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { ALICE, API, JWT_CLIENT, RESOURCE_SERVER, WEB, acmeFixture } from '../helpers/fixtures.js';
import { assertStatus, get, postForm, postJson, type JsonResponse } from '../helpers/http.js';
import { MFA_OTP, MFA_RECOVERY_CODE, codeForStep } from '../helpers/mfa-otp.js';
import { JWT_BEARER, assertionClaims, signAssertion } from '../helpers/oauth-assertions.js';
import { postgresSkip } from '../helpers/postgres.js';
import { redisSkip } from '../helpers/redis.js';
import type { TenantInput } from '../helpers/server.js';

/** Locked through one node, checked on the others (its own user, so no other test sees the lock). */
const LOCK_USER = { username: 'lena@acme.test', password: 'lena multi node password' };
/** Takes a parallel burst of wrong passwords spread over every node. */
const BURST_USER = { username: 'bruno@acme.test', password: 'bruno multi node password' };
const BURST = 30;
/** Enrolls a TOTP factor (its own user: under the tenant's `optional` policy an enrolled user always needs the second factor). */
const OTP_USER = { username: 'otto@acme.test', password: 'otto multi node password' };
/** A confidential client whose `mfa: always` asks OTP_USER to enroll. */
const MFA_APP = { client_id: 'acme-mfa-always', client_secret: 'acme-mfa-always-secret-0123456' };
const THRESHOLD = 3;
const ROUNDS = 100;
const CONCURRENT = 20;
const SIGN_IN = { audience: API, scope: 'offline_access read:sample' };

interface Variant {
  name: string;
  nodes: number;
  redis: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'multi-node: 3 nodes over one PostgreSQL and one Redis', nodes: 3, redis: true },
  { name: 'multi-node: 2 nodes over one PostgreSQL, no Redis (counters and single-use keys in PostgreSQL)', nodes: 2, redis: false },
];

async function clusterTenant(): Promise<{ tenant: TenantInput; jwtClientKey: CryptoKey; jwtClientKid: string }> {
  const fixture = await acmeFixture();
  const { tenant } = fixture;
  return {
    ...fixture,
    tenant: {
      ...tenant,
      attack_protection: { brute_force: { threshold: THRESHOLD } },
      applications: [
        ...(tenant.applications ?? []),
        {
          ...MFA_APP,
          token_endpoint_auth_method: 'client_secret_post',
          grant_types: ['password', 'refresh_token', MFA_OTP, MFA_RECOVERY_CODE],
          mfa: 'always',
        },
      ],
      users: [
        ...(tenant.users ?? []),
        { connection: 'Username-Password-Authentication', username: LOCK_USER.username, password: LOCK_USER.password },
        { connection: 'Username-Password-Authentication', username: OTP_USER.username, password: OTP_USER.password },
        { connection: 'Username-Password-Authentication', username: BURST_USER.username, password: BURST_USER.password },
      ],
    },
  };
}

function passwordGrant(
  node: ClusterNode,
  client: { client_id: string; client_secret: string },
  user: { username: string; password: string },
  extra: Record<string, string> = SIGN_IN,
): Promise<JsonResponse> {
  return postForm(node.at('/oauth/token'), {
    grant_type: 'password',
    username: user.username,
    password: user.password,
    ...extra,
    ...client,
  });
}

function refresh(node: ClusterNode, refreshToken: string): Promise<JsonResponse> {
  return postForm(node.at('/oauth/token'), { grant_type: 'refresh_token', refresh_token: refreshToken, ...WEB });
}

/** A password grant for alice through WEB that must succeed; returns the refresh token. */
async function freshRefreshToken(node: ClusterNode): Promise<string> {
  const res = await passwordGrant(node, WEB, ALICE);
  assert.equal(res.status, 200, `password grant on node ${node.index}: ${res.text}`);
  assert.equal(typeof res.body.refresh_token, 'string', res.text);
  return res.body.refresh_token as string;
}

for (const variant of VARIANTS) {
  const skip = postgresSkip(variant.name) || (variant.redis && redisSkip(variant.name));

  describe(variant.name, { skip }, () => {
    let cluster: Cluster;
    let jwtClientKey: CryptoKey;
    let jwtClientKid: string;
    /** Node A and node B: the first two. */
    let a: ClusterNode;
    let b: ClusterNode;

    before(async () => {
      const fixture = await clusterTenant();
      jwtClientKey = fixture.jwtClientKey;
      jwtClientKid = fixture.jwtClientKid;
      cluster = await startCluster({ nodes: variant.nodes, tenants: [fixture.tenant], redis: variant.redis });
      [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
    });
    after(async () => {
      await cluster?.close();
    });

    /** Appends every node's output to a failure message. */

    const withLogs = (work: () => Promise<void>): Promise<void> => cluster.withLogs(work);

    it('nodes started together on an empty database: one of them migrated and created the signing keys; every node serves the same issuer and JWKS', () =>
      withLogs(async () => {
        const logged = (message: string) => cluster.nodes.filter((node) => node.process.logsWithMessage(message).length > 0).length;
        assert.equal(logged('database schema migrated'), 1, 'exactly one node migrated the schema');
        assert.equal(logged('created signing keys'), 1, 'exactly one node created signing keys');
        const first = await jwksOf(a);
        // One key per algorithm the tenant signs with (RS256, ES256, EdDSA): no node added its own.
        assert.deepEqual(first.keys.map((k) => k.alg).sort(), ['ES256', 'EdDSA', 'RS256'], JSON.stringify(first));
        for (const node of cluster.nodes) {
          const discovery = await get(node.at('/.well-known/openid-configuration'));
          assert.equal(discovery.status, 200, discovery.text);
          assert.equal(discovery.body.issuer, cluster.issuer(), `node ${node.index}`);
          assert.deepEqual(await jwksOf(node), first, `node ${node.index}'s JWKS`);
        }
      }));

    it(`a brute-force lock made through node A (${THRESHOLD} wrong passwords) holds on every other node; latchkey users unblock lifts it on all`, () =>
      withLogs(async () => {
        for (let i = 1; i <= THRESHOLD; i++) {
          const res = await passwordGrant(a, WEB, { username: LOCK_USER.username, password: `wrong guess ${i} ${Math.random()}` });
          assertStatus(res, 400, 'invalid_grant', `wrong password ${i} of ${THRESHOLD} on A`);
        }
        for (const node of cluster.nodes.slice(1)) {
          const res = await passwordGrant(node, WEB, LOCK_USER);
          assertStatus(res, 429, 'too_many_attempts', `the right password on node ${node.index} after the lock on A`);
          assert.equal(res.body.error_reason, 'user_blocked', res.text);
          assert.match(res.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/, 'Retry-After');
        }
        assertStatus(await passwordGrant(a, WEB, LOCK_USER), 429, 'too_many_attempts', 'the right password on A itself');

        const unblocked = await cluster.cli(['users', 'unblock', LOCK_USER.username]);
        assert.equal(unblocked.code, 0, `users unblock: ${unblocked.stdout}\n${unblocked.stderr}`);
        assert.match(unblocked.stdout, /cleared [1-9][0-9]* brute-force locks?\b/, unblocked.stdout);

        // B first: had the lock only been lifted where the CLI's write landed, B would still refuse.
        for (const node of [...cluster.nodes.slice(1), a]) {
          assertStatus(
            await passwordGrant(node, WEB, LOCK_USER),
            200,
            undefined,
            `the right password on node ${node.index} after users unblock`,
          );
        }
      }));

    it(`${BURST} concurrent wrong passwords for one name spread over the nodes: exactly ${THRESHOLD} reach the password check, the rest are 429 user_blocked, and the right password is then refused everywhere`, () =>
      withLogs(async () => {
        // Parallel requests through several nodes were how lockouts were bypassed elsewhere (Keycloak, ZITADEL).
        const nodes = cluster.nodes;
        const answers = await Promise.all(
          Array.from({ length: BURST }, (_, i) =>
            passwordGrant(nodes[i % nodes.length]!, WEB, { username: BURST_USER.username, password: `burst guess ${i} ${Math.random()}` }),
          ),
        );
        const summary = answers
          .map((r, i) => `node ${i % nodes.length} → ${r.status} ${String(r.body.error ?? '')} ${String(r.body.error_reason ?? '')}`)
          .join(', ');
        const checked = answers.filter((r) => r.status === 400 && r.body.error === 'invalid_grant');
        const locked = answers.filter(
          (r) => r.status === 429 && r.body.error === 'too_many_attempts' && r.body.error_reason === 'user_blocked',
        );
        assert.equal(checked.length, THRESHOLD, `exactly ${THRESHOLD} invalid_grant: ${summary}`);
        assert.equal(locked.length, BURST - THRESHOLD, `the other ${BURST - THRESHOLD} are 429 user_blocked: ${summary}`);
        for (const node of nodes) {
          const res = await passwordGrant(node, WEB, BURST_USER);
          assertStatus(res, 429, 'too_many_attempts', `the right password on node ${node.index} after the burst`);
        }
      }));

    it(`of ${CONCURRENT} concurrent refreshes of one refresh token spread over the nodes, exactly one succeeds, in each of ${ROUNDS} rounds; the losers are invalid_grant and the family is revoked`, () =>
      withLogs(async () => {
        const nodes = cluster.nodes;
        for (let round = 0; round < ROUNDS; round++) {
          // A concurrent loser is a reused token: the family is revoked, so every round starts from a new password grant.
          const token = await freshRefreshToken(nodes[round % nodes.length]!);
          const answers = await Promise.all(
            Array.from({ length: CONCURRENT }, (_, i) => refresh(nodes[(round + i) % nodes.length]!, token)),
          );
          const winners = answers.filter((r) => r.status === 200);
          const losers = answers.filter((r) => r.status !== 200);
          const summary = `round ${round + 1}: ${answers.map((r, i) => `node ${(round + i) % nodes.length} → ${r.status} ${String(r.body.error ?? '')}`).join(', ')}`;
          assert.equal(winners.length, 1, `exactly one refresh succeeds; ${summary}\n${losers.map((r) => r.text).join('\n')}`);
          for (const loser of losers) assertStatus(loser, 400, 'invalid_grant', summary);
          const winner = winners[0]!;
          assert.equal(typeof winner.body.access_token, 'string', winner.text);
          const rotated = winner.body.refresh_token;
          assert.equal(typeof rotated, 'string', winner.text);
          assert.notEqual(rotated, token, 'rotated');

          // Reuse detected (the losers presented a replaced token): the whole family, the winner's new token included, is revoked on every node.
          assertStatus(
            await refresh(nodes[(round + 1) % nodes.length]!, rotated as string),
            400,
            'invalid_grant',
            `round ${round + 1}: the winner's token after the reuse`,
          );
        }
      }));

    it('a private_key_jwt client assertion used on A is refused on B (invalid_client); a fresh one works on B', () =>
      withLogs(async () => {
        const present = (node: ClusterNode, assertion: string) =>
          postForm(node.at('/oauth/token'), {
            grant_type: 'client_credentials',
            audience: API,
            client_id: JWT_CLIENT.client_id,
            client_assertion_type: JWT_BEARER,
            client_assertion: assertion,
          });
        const sign = () =>
          signAssertion(assertionClaims(JWT_CLIENT.client_id, cluster.issuer(), new Date()), { key: jwtClientKey, kid: jwtClientKid });

        const assertion = await sign();
        assertStatus(await present(a, assertion), 200, undefined, 'the assertion on A');
        for (const node of cluster.nodes.slice(1)) {
          const replay = await present(node, assertion);
          assertStatus(replay, 401, 'invalid_client', `the same assertion replayed on node ${node.index}`);
        }
        assertStatus(await present(a, assertion), 401, 'invalid_client', 'the same assertion again on A');
        // Control: B accepts this client's assertions; what it refused was the replay.
        assertStatus(await present(b, await sign()), 200, undefined, 'a fresh assertion on B');
      }));

    it('regression (issue #12): an assertion spent at the token endpoint is refused at revocation and introspection (one single-use store per cluster)', () =>
      withLogs(async () => {
        // An assertion whose aud is the issuer is valid at every endpoint that authenticates clients (RFC 7523 §3);
        // its jti must be spent once across all of them, in Redis when the cluster has it.
        const assertion = await signAssertion(assertionClaims(JWT_CLIENT.client_id, cluster.issuer(), new Date()), {
          key: jwtClientKey,
          kid: jwtClientKid,
        });
        const withAssertion = { client_id: JWT_CLIENT.client_id, client_assertion_type: JWT_BEARER, client_assertion: assertion };
        const issued = await postForm(a.at('/oauth/token'), { grant_type: 'client_credentials', audience: API, ...withAssertion });
        assertStatus(issued, 200, undefined, 'the assertion at the token endpoint');
        const accessToken = String(issued.body.access_token);
        assertStatus(
          await postForm(b.at('/oauth/revoke'), { token: accessToken, ...withAssertion }),
          401,
          'invalid_client',
          'the same assertion at revocation',
        );
        assertStatus(
          await postForm(b.at('/oauth/introspect'), { token: accessToken, ...withAssertion }),
          401,
          'invalid_client',
          'the same assertion at introspection',
        );
      }));

    it('a TOTP code used on A is refused when replayed on B; an mfa_token used on A is refused on B', () =>
      withLogs(async () => {
        // Enrollment through A, confirmed on B with the code of the current step s0.
        const enrollToken = await mfaRequired(a, true);
        const associated = await postJson(
          a.at('/mfa/associate'),
          { ...MFA_APP, authenticator_types: ['otp'] },
          { authorization: `Bearer ${enrollToken}` },
        );
        assertStatus(associated, 200, undefined, 'associate otp on A');
        const secret = associated.body.secret as string;
        const recoveryCode = (associated.body.recovery_codes as string[])[0]!;
        const s0 = Math.floor(Date.now() / 30_000);
        assertStatus(await otpGrant(b, enrollToken, codeForStep(secret, s0)), 200, undefined, 'confirming the enrollment on B');

        // The code of step s0 + 1: valid (±1 step) for the next minute at least, and not used yet.
        const code = codeForStep(secret, s0 + 1);
        const tokenA = await mfaRequired(a, false);
        assertStatus(await otpGrant(a, tokenA, code), 200, undefined, 'the code on A');
        const tokenB = await mfaRequired(b, false);
        const replayed = await otpGrant(b, tokenB, code);
        assertStatus(replayed, 400, 'invalid_grant', 'the same code on B, with a new mfa_token');
        assert.match(String(replayed.body.error_description), /already been used/, replayed.text);

        // tokenA was spent on A: refused on B before any factor is checked (the recovery code is not spent).
        for (const node of cluster.nodes.slice(1)) {
          const reused = await recoveryGrant(node, tokenA, recoveryCode);
          assertStatus(reused, 400, 'invalid_grant', `the mfa_token used on A, presented on node ${node.index}`);
          assert.match(String(reused.body.error_description), /mfa_token has already been used/, reused.text);
        }
        // Control: tokenB (its replayed code refused, so never spent) and the recovery code still work on B.
        const recovered = await recoveryGrant(b, tokenB, recoveryCode);
        assertStatus(recovered, 200, undefined, 'the unspent mfa_token with the recovery code on B');
        assert.equal(typeof recovered.body.recovery_code, 'string', 'a new recovery code');
        const again = await recoveryGrant(a, tokenB, recoveryCode);
        assertStatus(again, 400, 'invalid_grant', 'the mfa_token used on B, presented on A');
        assert.match(String(again.body.error_description), /mfa_token has already been used/, again.text);
      }));

    it(`a key rotated with latchkey keys rotate is in B's JWKS within KEY_CACHE_SECONDS + 5 s (${KEY_CACHE_SECONDS + 5} s); a token A signs with it verifies against B's JWKS and B introspects it as active`, () =>
      withLogs(async () => {
        const before = await jwksOf(b);
        const rotated = await cluster.cli(['keys', 'rotate', '--alg', 'RS256']);
        assert.equal(rotated.code, 0, `keys rotate: ${rotated.stdout}\n${rotated.stderr}`);
        const kid = /new RS256 signing key (\S+);/.exec(rotated.stdout)?.[1];
        assert.ok(kid, rotated.stdout);
        assert.ok(!before.keys.some((k) => k.kid === kid), 'a new kid');

        const boundMs = (KEY_CACHE_SECONDS + 5) * 1000;
        const deadline = Date.now() + boundMs;
        for (const node of cluster.nodes.slice(1)) {
          await pollUntil(deadline, `node ${node.index}'s JWKS to publish ${kid} within ${boundMs} ms`, async () =>
            (await jwksOf(node)).keys.some((k) => k.kid === kid),
          );
        }

        // A signs with the new key once its key cache (at most KEY_CACHE_SECONDS old) is renewed, or at once when Redis announced the rotation.
        let accessToken = '';
        await pollUntil(Date.now() + boundMs, `node A to sign with ${kid} within ${boundMs} ms`, async () => {
          const res = await postForm(a.at('/oauth/token'), { grant_type: 'client_credentials', audience: API, ...WEB });
          assertStatus(res, 200, undefined, 'client_credentials on A');
          accessToken = res.body.access_token as string;
          return decodeProtectedHeader(accessToken).kid === kid;
        });
        const { payload, protectedHeader } = await jwtVerify(accessToken, createLocalJWKSet(await jwksOf(b)), {
          issuer: cluster.issuer(),
          audience: API,
        });
        assert.equal(protectedHeader.kid, kid);
        assert.equal(payload.azp ?? payload.client_id, WEB.client_id);
        // B's own verifier (its key cache, not only its JWKS endpoint) takes the new key too: RFC 7662 introspection on every other node.
        for (const node of cluster.nodes.slice(1)) {
          const introspected = await postForm(node.at('/oauth/introspect'), { token: accessToken, ...RESOURCE_SERVER });
          assert.equal(introspected.status, 200, introspected.text);
          assert.equal(introspected.body.active, true, `node ${node.index} introspects the token signed with ${kid}: ${introspected.text}`);
        }
      }));

    it('a refresh token revoked on A is refused on B at once', () =>
      withLogs(async () => {
        const token = await freshRefreshToken(a);
        const revoked = await postForm(a.at('/oauth/revoke'), { token, ...WEB });
        assert.equal(revoked.status, 200, revoked.text);
        for (const node of cluster.nodes.slice(1)) {
          assertStatus(await refresh(node, token), 400, 'invalid_grant', `refresh on node ${node.index} after the revocation on A`);
        }
        // Control: an unrevoked token refreshes on B.
        assertStatus(await refresh(b, await freshRefreshToken(a)), 200, undefined, 'an unrevoked token on B');
      }));

    /** 403 mfa_required through MFA_APP for OTP_USER; returns the mfa_token. */
    async function mfaRequired(node: ClusterNode, enrollment: boolean): Promise<string> {
      const res = await passwordGrant(node, MFA_APP, OTP_USER);
      assertStatus(res, 403, 'mfa_required', `password grant on node ${node.index}`);
      assert.equal(res.body.error_reason, enrollment ? 'mfa_enrollment_required' : undefined, res.text);
      assert.equal(typeof res.body.mfa_token, 'string', res.text);
      return res.body.mfa_token as string;
    }

    function otpGrant(node: ClusterNode, mfaToken: string, otp: string): Promise<JsonResponse> {
      return postForm(node.at('/oauth/token'), { grant_type: MFA_OTP, mfa_token: mfaToken, otp, ...MFA_APP });
    }

    function recoveryGrant(node: ClusterNode, mfaToken: string, recoveryCode: string): Promise<JsonResponse> {
      return postForm(node.at('/oauth/token'), {
        grant_type: MFA_RECOVERY_CODE,
        mfa_token: mfaToken,
        recovery_code: recoveryCode,
        ...MFA_APP,
      });
    }
  });
}

async function jwksOf(node: ClusterNode): Promise<JSONWebKeySet> {
  const res = await get(node.at('/.well-known/jwks.json'));
  assert.equal(res.status, 200, `node ${node.index} JWKS: ${res.text}`);
  return res.body as unknown as JSONWebKeySet;
}

/** Polls `check` until true; fails once `deadline` (epoch ms) passes. The deadline is the stated bound, not a sleep. */
async function pollUntil(deadline: number, what: string, check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    const started = Date.now();
    if (started > deadline) assert.fail(`timed out waiting for ${what}`);
    if (await check()) return;
    // Polling interval only.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
