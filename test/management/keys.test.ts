/**
 * DESIGN.md §9, issue #15 point 2: the tenant's signing keys through the
 * Management API, in Auth0's shapes. `GET /keys/signing` lists every
 * published key with a real X.509 certificate over it (self-signed by the
 * key: its public key is the JWKS key), Auth0's `fingerprint` (SHA-1 of the
 * DER, colon-separated upper-case hex) and `thumbprint` (the same, bare),
 * and the same certificate at every read. `POST /keys/signing/rotate` makes
 * new keys sign from then on (every algorithm the tenant signs with) while
 * the old ones stay in the JWKS, so tokens they signed keep working, and
 * tells the other nodes through Redis.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ManagementClient } from 'auth0';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, jwtVerify, type JSONWebKeySet } from 'jose';
import { ALICE, API, API_EDDSA, API_ES256, WEB } from '../helpers/fixtures.js';
import { openReadyRedis, redisSkip, TEST_REDIS_URL } from '../helpers/redis.js';
import { tlsUnavailableReason, type HttpsTestServer } from '../helpers/tls.js';
import { assertManagementError, MGMT_CLIENT, managementToken, mgmt, startManagementServer } from './helpers.js';

interface SigningKey {
  kid: string;
  cert: string;
  pkcs7: string;
  current: boolean;
  previous: boolean;
  current_since: string;
  current_until?: string;
  fingerprint: string;
  thumbprint: string;
  alg: string;
}

const KEY_CHANNEL = 'latchkey:signing-keys-changed';

describe('Management API signing keys (DESIGN.md §9)', { skip: tlsUnavailableReason() }, () => {
  let server: HttpsTestServer;
  let token: string;

  before(async () => {
    // With Redis (when the test environment has one), a rotation is announced to the other nodes.
    server = await startManagementServer(TEST_REDIS_URL === undefined ? {} : { extra: { redis: TEST_REDIS_URL } });
    token = await managementToken(server);
  });
  after(() => server?.close());

  const jwks = async (): Promise<JSONWebKeySet> => (await server.get(server.at('/.well-known/jwks.json'))).body as unknown as JSONWebKeySet;
  const list = async (): Promise<SigningKey[]> => {
    const response = await mgmt(server, token).get('/keys/signing');
    assert.equal(response.status, 200, response.text);
    return response.body as unknown as SigningKey[];
  };
  const tokenFor = async (audience: string): Promise<string> => {
    const response = await server.postForm(server.at('/oauth/token'), { grant_type: 'password', ...WEB, ...ALICE, audience });
    assert.equal(response.status, 200, response.text);
    return response.body.access_token as string;
  };

  it('lists one current key per algorithm the tenant signs with, each with a real certificate over its JWKS key', async () => {
    const keys = await list();
    const published = await jwks();
    assert.deepEqual(keys.map((k) => k.alg).sort(), ['ES256', 'EdDSA', 'RS256']);
    assert.deepEqual(keys.map((k) => k.kid).sort(), published.keys.map((k) => k.kid).sort(), 'the same keys as the JWKS');
    for (const key of keys) {
      assert.equal(key.current, true);
      assert.equal(key.previous, false);
      assert.equal(key.current_until, undefined);
      assert.ok(!Number.isNaN(Date.parse(key.current_since)), key.current_since);
      const certificate = new X509Certificate(key.cert);
      assert.ok(certificate.verify(certificate.publicKey), `${key.alg}: self-signed by the key`);
      const jwk = published.keys.find((k) => k.kid === key.kid);
      const fromCert = await exportJWK(certificate.publicKey);
      for (const member of ['kty', 'n', 'e', 'crv', 'x', 'y'] as const) {
        assert.equal(fromCert[member], jwk?.[member], `${key.alg}: the certificate's ${member} is the JWKS key's`);
      }
      // Auth0's forms: "CC:FB:…:25" and "CCFB…25", the SHA-1 of the DER certificate.
      assert.equal(key.fingerprint, certificate.fingerprint);
      assert.match(key.fingerprint, /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
      assert.equal(key.thumbprint, certificate.fingerprint.replaceAll(':', ''));
      assert.match(key.pkcs7, /^-----BEGIN PKCS7-----\n[\s\S]+\n-----END PKCS7-----\n?$/);
      assert.ok(new Date(certificate.validFrom) <= new Date(key.current_since), 'valid from the key’s creation');
    }
  });

  it('answers the same certificate at every read (an ECDSA signature differs at each signing: it is made once and kept)', async () => {
    const first = await list();
    const second = await list();
    assert.deepEqual(second, first);
  });

  it('GET /keys/signing/{kid} answers that key; an unknown kid is 404 inexistent_key', async () => {
    const [key] = await list();
    const one = await mgmt(server, token).get(`/keys/signing/${encodeURIComponent(key?.kid ?? '')}`);
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(one.body, key);
    assertManagementError(await mgmt(server, token).get('/keys/signing/no-such-kid'), 404, 'inexistent_key');
  });

  it("Auth0's SDK (ManagementClient v7, unchanged) lists, gets and rotates the keys", async () => {
    const sdk = new ManagementClient({ domain: `${server.host}/acme`, token, fetch: server.fetch as typeof fetch });
    const listed = await sdk.keys.signing.list();
    assert.deepEqual(listed, await list());
    const one = await sdk.keys.signing.get(listed[0]?.kid ?? '');
    assert.equal(one.kid, listed[0]?.kid);
    const rotated = await sdk.keys.signing.rotate();
    assert.ok((await sdk.keys.signing.list()).some((k) => k.kid === rotated.kid && k.current && k.cert === rotated.cert));
  });

  it('reading takes read:signing_keys and rotating create:signing_keys (403 insufficient_scope otherwise)', async () => {
    const reader = await managementToken(server, MGMT_CLIENT, 'acme', 'read:signing_keys');
    const other = await managementToken(server, MGMT_CLIENT, 'acme', 'read:users');
    assertManagementError(await mgmt(server, other).get('/keys/signing'), 403, 'insufficient_scope');
    assertManagementError(await mgmt(server, other).get('/keys/signing/x'), 403, 'insufficient_scope');
    assertManagementError(await mgmt(server, reader).post('/keys/signing/rotate'), 403, 'insufficient_scope');
    assert.equal((await mgmt(server, reader).get('/keys/signing')).status, 200);
  });

  it('rotate: new keys sign from then on, the old ones stay published and their tokens keep working; the other nodes are told through Redis', async (t) => {
    const before = await list();
    const oldTokens = { RS256: await tokenFor(API), ES256: await tokenFor(API_ES256), EdDSA: await tokenFor(API_EDDSA) };
    const subscriber = TEST_REDIS_URL === undefined ? undefined : await openReadyRedis(TEST_REDIS_URL);
    const announced = new Promise<string>((resolve) =>
      subscriber?.on('message', (_channel: string, tenantId: string) => resolve(tenantId)),
    );
    await subscriber?.subscribe(KEY_CHANNEL);
    try {
      const rotated = await mgmt(server, token).post('/keys/signing/rotate');
      assert.equal(rotated.status, 201, rotated.text);
      const { kid, cert } = rotated.body as { kid: string; cert: string };
      if (subscriber === undefined) t.diagnostic(`the Redis announcement is not checked: ${redisSkip('signing keys')}`);
      else assert.equal(await announced, server.server.server.runtime.catalog.tenant('acme')?.id, 'announced to the other nodes');

      const after = await list();
      const fresh = after.filter((k) => k.current);
      assert.deepEqual(fresh.map((k) => k.alg).sort(), ['ES256', 'EdDSA', 'RS256'], 'one new current key per algorithm');
      assert.ok(
        fresh.every((k) => !before.some((b) => b.kid === k.kid)),
        'all new',
      );
      const rs256 = fresh.find((k) => k.alg === 'RS256');
      assert.equal(kid, rs256?.kid, 'the answer names the key that signs ID tokens (RS256 here)');
      assert.equal(cert, rs256?.cert);
      for (const old of before) {
        const now = after.find((k) => k.kid === old.kid);
        assert.equal(now?.current, false, `${old.alg}: the old key no longer signs`);
        assert.equal(now?.previous, true);
        assert.ok(now?.current_until !== undefined && Date.parse(now.current_until) >= Date.parse(old.current_since));
        assert.equal(now?.cert, old.cert, 'the old key keeps its certificate');
      }

      const published = createLocalJWKSet(await jwks());
      for (const [alg, audience] of [
        ['RS256', API],
        ['ES256', API_ES256],
        ['EdDSA', API_EDDSA],
      ] as const) {
        const newToken = await tokenFor(audience);
        assert.equal(decodeProtectedHeader(newToken).kid, fresh.find((k) => k.alg === alg)?.kid, `${alg}: signed by the new key at once`);
        await jwtVerify(oldTokens[alg], published, { issuer: server.issuer() });
        await jwtVerify(newToken, published, { issuer: server.issuer() });
      }
      assert.equal((await mgmt(server, token).get('/keys/signing')).status, 200, 'the Management API token the old key signed still works');
    } finally {
      subscriber?.disconnect();
    }
  });
});
