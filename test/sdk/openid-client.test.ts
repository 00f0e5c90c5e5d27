/**
 * panva's openid-client 6 (on oauth4webapi), unchanged, against Latchkey
 * over real HTTPS.
 *
 * DESIGN.md §3: "The issuer is exactly `{public_url}/T/`, trailing slash
 * included, and the same string appears in discovery, in every token's
 * `iss` ...: real clients (openid-client, ...) compare it byte for byte."
 * "Basic credentials are form-urlencoded (RFC 6749 §2.3.1); a
 * private_key_jwt assertion's `aud` is a single string ... equal to the
 * issuer or to the token endpoint URL"; "it may omit `kid` when the client
 * has one key". §4: id_token `aud` = client_id, signed RS256; refresh tokens
 * rotate on every use; JWT access tokens are introspectable.
 *
 * TLS trust goes through openid-client's own hook, the `customFetch` option,
 * with a fetch that trusts only the test certificate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type CryptoKey, type JSONWebKeySet, type JWTPayload } from 'jose';
import * as client from 'openid-client';
import { ALICE, API, BASIC, JWT_CLIENT, WEB, acmeFixture } from '../helpers/fixtures.js';
import { startHttpsTestServer, tlsUnavailableReason, type HttpsTestServer } from '../helpers/tls.js';
import { audiences, scopeList } from '../helpers/token-checks.js';

const PASSWORD_SCOPE = 'openid offline_access read:sample';

describe('openid-client against Latchkey over HTTPS', { skip: tlsUnavailableReason() }, () => {
  let https: HttpsTestServer;
  let jwtClientKey: CryptoKey;
  let verifyToken: (token: string, audience: string) => Promise<JWTPayload>;

  before(async () => {
    const fixture = await acmeFixture();
    jwtClientKey = fixture.jwtClientKey;
    https = await startHttpsTestServer({ tenants: [fixture.tenant] });
    const jwks = (await https.get(`${https.issuer()}.well-known/jwks.json`)).body as unknown as JSONWebKeySet; // the JWKS document is a JSON object
    const keys = createLocalJWKSet(jwks);
    verifyToken = async (token, audience) => (await jwtVerify(token, keys, { issuer: https.issuer(), audience })).payload;
  });
  after(() => https.close());

  /** Discovery exactly as an application does it, trusting the test certificate through customFetch. */
  const discover = (clientId: string, secret?: string, auth?: client.ClientAuth, issuer = https.issuer()): Promise<client.Configuration> =>
    client.discovery(new URL(issuer), clientId, secret, auth, {
      [client.customFetch]: https.fetch,
      // Also verify id_token signatures against the published JWKS (off by default for TLS-protected responses).
      execute: [client.enableNonRepudiationChecks],
    });

  const passwordGrant = (config: client.Configuration, password = ALICE.password) =>
    client.genericGrantRequest(config, 'password', { username: ALICE.username, password, scope: PASSWORD_SCOPE, audience: API });

  describe('client_secret_post (the WEB application)', () => {
    let config: client.Configuration;
    before(async () => {
      config = await discover(WEB.client_id, WEB.client_secret);
    });

    it('discovery: the strict issuer check passes and every endpoint is the https one', () => {
      const metadata = config.serverMetadata();
      assert.equal(metadata.issuer, https.issuer());
      assert.equal(metadata.token_endpoint, https.at('/oauth/token'));
      for (const endpoint of [
        metadata.userinfo_endpoint,
        metadata.jwks_uri,
        metadata.introspection_endpoint,
        metadata.revocation_endpoint,
      ]) {
        assert.ok(endpoint?.startsWith(`${https.issuer()}`), String(endpoint));
      }
    });

    it('the issuer without its trailing slash is refused by the same check (so the check above is byte for byte)', async () => {
      await assert.rejects(discover(WEB.client_id, WEB.client_secret, undefined, https.issuer().slice(0, -1)), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /issuer/i);
        return true;
      });
    });

    it('password grant: tokens, and the id_token passes openid-client validation (issuer, audience, signature)', async () => {
      const tokens = await passwordGrant(config);
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(typeof tokens.refresh_token, 'string');
      const claims = tokens.claims();
      assert.ok(claims, 'an id_token was returned and validated');
      assert.equal(claims.iss, https.issuer());
      assert.equal(claims.aud, WEB.client_id);
      assert.equal(typeof claims.sub, 'string');
      assert.equal(decodeProtectedHeader(String(tokens.id_token)).alg, 'RS256');
      const at = await verifyToken(tokens.access_token, API);
      assert.equal(at.sub, claims.sub);
      assert.ok(audiences(at).includes(API));
      assert.ok(scopeList(at.scope).includes('read:sample'));
      assert.ok(!scopeList(at.scope).includes('write:sample'), 'only the asked API scope');
    });

    it('refreshTokenGrant rotates the refresh token; the spent one is then invalid_grant', async () => {
      const first = await passwordGrant(config);
      const firstRefresh = String(first.refresh_token);
      const second = await client.refreshTokenGrant(config, firstRefresh);
      assert.equal(typeof second.refresh_token, 'string');
      assert.notEqual(second.refresh_token, firstRefresh, 'rotated');
      assert.equal(second.claims()?.sub, first.claims()?.sub, 'the refreshed id_token validates and names the same user');
      assert.equal((await verifyToken(second.access_token, API)).sub, first.claims()?.sub);
      const third = await client.refreshTokenGrant(config, String(second.refresh_token));
      assert.notEqual(third.refresh_token, second.refresh_token);
      await assert.rejects(client.refreshTokenGrant(config, firstRefresh), isOAuthError('invalid_grant'));
    });

    it('fetchUserInfo with the expected subject', async () => {
      const tokens = await passwordGrant(config);
      const sub = String(tokens.claims()?.sub);
      const info = await client.fetchUserInfo(config, tokens.access_token, sub);
      assert.equal(info.sub, sub);
      assert.equal(info.email, ALICE.username);
      await assert.rejects(client.fetchUserInfo(config, tokens.access_token, 'someone-else'), (err: unknown) => {
        assert.ok(err instanceof client.ClientError && err.cause instanceof Error, String(err));
        assert.match(err.cause.message, /"sub"/, 'openid-client compared the subject, so the check above was real');
        return true;
      });
    });

    it('tokenIntrospection: the access token and the refresh token are active; after tokenRevocation they are not', async () => {
      const tokens = await passwordGrant(config);
      const refreshToken = String(tokens.refresh_token);
      const at = await client.tokenIntrospection(config, tokens.access_token);
      assert.equal(at.active, true);
      assert.equal(at.client_id, WEB.client_id);
      assert.equal(at.sub, tokens.claims()?.sub);
      assert.equal(at.iss, https.issuer());
      const rt = await client.tokenIntrospection(config, refreshToken, { token_type_hint: 'refresh_token' });
      assert.equal(rt.active, true);

      await client.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' });
      assert.equal((await client.tokenIntrospection(config, refreshToken)).active, false);
      await assert.rejects(client.refreshTokenGrant(config, refreshToken), isOAuthError('invalid_grant'));

      await client.tokenRevocation(config, tokens.access_token);
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
    });

    it('clientCredentialsGrant with audience', async () => {
      const tokens = await client.clientCredentialsGrant(config, { audience: API, scope: 'read:sample' });
      assert.equal(tokens.id_token, undefined);
      assert.equal(tokens.refresh_token, undefined);
      const at = await verifyToken(tokens.access_token, API);
      assert.equal(at.aud, API);
      assert.equal(at.sub, WEB.client_id);
      assert.equal(at.scope, 'read:sample');
    });

    it('a wrong password is a ResponseBodyError with error invalid_grant', async () => {
      await assert.rejects(passwordGrant(config, 'wrong password'), isOAuthError('invalid_grant'));
    });
  });

  describe('client_secret_basic (the BASIC application, a secret with characters Basic must form-encode)', () => {
    let config: client.Configuration;
    before(async () => {
      config = await discover(BASIC.client_id, undefined, client.ClientSecretBasic(BASIC.client_secret));
    });

    it('password grant, refresh, introspection and client credentials', async () => {
      const tokens = await passwordGrant(config);
      assert.equal(tokens.claims()?.aud, BASIC.client_id);
      const refreshed = await client.refreshTokenGrant(config, String(tokens.refresh_token));
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
      assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).client_id, BASIC.client_id);
      const cc = await client.clientCredentialsGrant(config, { audience: API });
      assert.equal((await verifyToken(cc.access_token, API)).client_id, BASIC.client_id);
    });

    it('a wrong secret: 401 with a Basic challenge, which openid-client surfaces as WWWAuthenticateChallengeError, body invalid_client', async () => {
      const wrong = await discover(BASIC.client_id, undefined, client.ClientSecretBasic('not the secret'));
      const err: unknown = await client.clientCredentialsGrant(wrong, { audience: API }).then(
        () => assert.fail('a wrong secret was accepted'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof client.WWWAuthenticateChallengeError, String(err));
      assert.equal(err.status, 401);
      assert.deepEqual(
        err.cause.map((c) => c.scheme),
        ['basic'],
      );
      assert.equal(((await err.response.json()) as { error?: unknown }).error, 'invalid_client');
    });
  });

  describe('private_key_jwt (the JWT application): the assertion openid-client signs, aud = the issuer as one string, no kid', () => {
    let config: client.Configuration;
    /** The client assertions openid-client sent, read off the wire (the request itself goes through unchanged). */
    const assertions: string[] = [];
    before(async () => {
      config = await discover(JWT_CLIENT.client_id, undefined, client.PrivateKeyJwt(jwtClientKey));
      config[client.customFetch] = (url, options) => {
        if (options.body instanceof URLSearchParams) {
          const assertion = options.body.get('client_assertion');
          if (assertion !== null) assertions.push(assertion);
        }
        return https.fetch(url, options);
      };
    });

    it('the assertion openid-client signs: aud is the issuer as a single string, no kid, a jti', async () => {
      await client.clientCredentialsGrant(config, { audience: API });
      const sent = assertions.at(-1);
      assert.ok(sent, 'a client_assertion was sent');
      assert.equal(decodeProtectedHeader(sent).kid, undefined);
      const { aud, iss, sub, jti } = decodeJwt(sent);
      assert.equal(aud, https.issuer());
      assert.equal(iss, JWT_CLIENT.client_id);
      assert.equal(sub, JWT_CLIENT.client_id);
      assert.equal(typeof jti, 'string');
    });

    it('password grant, refresh, client credentials, introspection and revocation each with a fresh assertion', async () => {
      const before = assertions.length;
      const tokens = await passwordGrant(config);
      assert.equal(tokens.claims()?.aud, JWT_CLIENT.client_id);
      const refreshed = await client.refreshTokenGrant(config, String(tokens.refresh_token));
      assert.equal(typeof refreshed.refresh_token, 'string');
      const cc = await client.clientCredentialsGrant(config, { audience: API });
      assert.equal((await verifyToken(cc.access_token, API)).client_id, JWT_CLIENT.client_id);
      assert.equal((await client.tokenIntrospection(config, cc.access_token)).active, true);
      await client.tokenRevocation(config, String(refreshed.refresh_token));
      await assert.rejects(client.refreshTokenGrant(config, String(refreshed.refresh_token)), isOAuthError('invalid_grant'));
      const jtis = assertions.slice(before).map((a) => decodeJwt(a).jti);
      assert.equal(jtis.length, 6);
      assert.equal(new Set(jtis).size, 6, 'single-use jti: every request carried a new one');
    });

    it('an assertion signed with another key is invalid_client', async () => {
      const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
      const wrong = await discover(JWT_CLIENT.client_id, undefined, client.PrivateKeyJwt(privateKey));
      await assert.rejects(client.clientCredentialsGrant(wrong, { audience: API }), isOAuthError('invalid_client'));
    });
  });
});

/** openid-client surfaces an OAuth error response as ResponseBodyError with the `error` code. */
function isOAuthError(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof client.ResponseBodyError, `expected a ResponseBodyError, got ${String(err)}`);
    assert.equal(err.error, code);
    return true;
  };
}
