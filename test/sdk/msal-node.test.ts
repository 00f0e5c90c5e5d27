/**
 * Microsoft's MSAL for Node (@azure/msal-node 7), unchanged, against
 * Latchkey over real HTTPS.
 *
 * DESIGN.md §3: discovery "lists every endpoint here plus an
 * `authorization_endpoint` (MSAL requires one)"; "the API named by ...
 * Entra-style scopes `{identifier}/{scope}` and `{identifier}/.default`
 * (MSAL posts those to whatever token endpoint discovery advertises)";
 * unknown parameters such as MSAL's `client_info` and `x-client-*` are
 * ignored. Seed 000 (Entra ROPC): a wrong password is `invalid_grant`.
 *
 * MSAL is pointed at the tenant issuer with `protocolMode: OIDC` (endpoints
 * come from `{authority}.well-known/openid-configuration`, no Entra
 * instance discovery) and `knownAuthorities: [host]` (the authority is
 * trusted without asking login.microsoftonline.com). TLS trust goes through
 * MSAL's own hook, `system.networkClient`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AuthError,
  ConfidentialClientApplication,
  ProtocolMode,
  PublicClientApplication,
  ServerError,
  type Configuration,
} from '@azure/msal-node';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { ALICE, API, ENTRA, WEB, acmeFixture } from '../helpers/fixtures.js';
import { networkModule } from '../helpers/msal.js';
import { startHttpsTestServer, tlsUnavailableReason, type HttpsTestServer } from '../helpers/tls.js';
import { audiences, scopeList } from '../helpers/token-checks.js';

describe('MSAL Node against Latchkey over HTTPS', { skip: tlsUnavailableReason() }, () => {
  let https: HttpsTestServer;
  let verifyToken: (token: string, audience: string) => Promise<JWTPayload>;

  before(async () => {
    https = await startHttpsTestServer({ tenants: [(await acmeFixture()).tenant] });
    const jwks = (await (await https.fetch(`${https.issuer()}.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const keys = createLocalJWKSet(jwks);
    verifyToken = async (token, audience) => (await jwtVerify(token, keys, { issuer: https.issuer(), audience })).payload;
  });
  after(() => https.close());

  const config = (auth: Configuration['auth']): Configuration => ({
    auth: { authority: https.issuer(), knownAuthorities: [https.host], ...auth },
    system: {
      protocolMode: ProtocolMode.OIDC,
      networkClient: networkModule(https.fetch),
    },
  });

  const publicClient = (): PublicClientApplication => new PublicClientApplication(config({ clientId: ENTRA.client_id }));

  /** The refresh tokens in MSAL's own cache, read through its documented serialize(). */
  const cachedRefreshTokens = (pca: PublicClientApplication): string[] => {
    const cache = JSON.parse(pca.getTokenCache().serialize()) as { RefreshToken?: Record<string, { secret: string }> };
    return Object.values(cache.RefreshToken ?? {}).map((entry) => entry.secret);
  };

  /** Completed refresh_token grants of the Entra client on discovery's token_endpoint, from the server's own log. */
  const refreshGrantsLogged = (): number =>
    https.server.logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter(
        (l) =>
          l.msg === 'request completed' &&
          l.grant_type === 'refresh_token' &&
          l.client_id === ENTRA.client_id &&
          l.route === '/:tenant/oauth/token',
      ).length;

  it('acquireTokenByUsernamePassword with an {identifier}/{scope} scope: an access token for the API, an id_token and an account', async () => {
    const pca = publicClient();
    const result = await pca.acquireTokenByUsernamePassword({
      scopes: [`${API}/read:sample`],
      username: ALICE.username,
      password: ALICE.password,
    });
    assert.ok(result, 'MSAL returned a result');
    const at = await verifyToken(result.accessToken, API);
    assert.ok(audiences(at).includes(API));
    assert.deepEqual(
      scopeList(at.scope).filter((s) => s.includes(':')),
      ['read:sample'],
    );
    assert.equal(at.client_id, ENTRA.client_id);
    assert.equal(typeof result.idToken, 'string');
    const id = await verifyToken(result.idToken, ENTRA.client_id);
    assert.equal(id.sub, at.sub);
    assert.ok(result.account, 'an account');
    assert.equal(result.account.username, ALICE.username);
    // MSAL caches the token under the scopes the response names: they must be in the form MSAL asked for them.
    assert.ok(result.scopes.includes(`${API}/read:sample`), `scopes: ${result.scopes.join(' ')}`);
    assert.ok(result.expiresOn instanceof Date && result.expiresOn.getTime() > Date.now());
    assert.deepEqual(await pca.getAllAccounts().then((a) => a.map((x) => x.username)), [ALICE.username]);
  });

  it('acquireTokenSilent serves the cached token, and with forceRefresh redeems the refresh token, which rotates', async () => {
    const pca = publicClient();
    const first = await pca.acquireTokenByUsernamePassword({
      scopes: [`${API}/read:sample`],
      username: ALICE.username,
      password: ALICE.password,
    });
    assert.ok(first?.account);
    const refreshTokenBefore = cachedRefreshTokens(pca);
    assert.equal(refreshTokenBefore.length, 1, 'offline_access (which MSAL always adds) gave a refresh token');

    const cached = await pca.acquireTokenSilent({ account: first.account, scopes: [`${API}/read:sample`] });
    assert.equal(cached.fromCache, true, 'the response named the scopes as MSAL asked for them, so its cache lookup matches');
    assert.equal(cached.accessToken, first.accessToken);

    const refreshGrantsBefore = refreshGrantsLogged();
    const refreshed = await pca.acquireTokenSilent({ account: first.account, scopes: [`${API}/read:sample`], forceRefresh: true });
    assert.equal(refreshed.fromCache, false);
    // The request line is written once the response has gone out (onResponse), so it may land just after MSAL has its answer.
    for (let tries = 0; tries < 100 && refreshGrantsLogged() <= refreshGrantsBefore; tries++) await delay(20);
    assert.equal(refreshGrantsLogged(), refreshGrantsBefore + 1, 'one refresh_token grant reached the server');
    assert.notEqual(refreshed.accessToken, first.accessToken);
    const at = await verifyToken(refreshed.accessToken, API);
    assert.equal(at.sub, (await verifyToken(first.accessToken, API)).sub);
    assert.deepEqual(scopeList(at.scope), ['offline_access', 'openid', 'profile', 'read:sample']);
    assert.ok(refreshed.scopes.includes(`${API}/read:sample`));
    const refreshTokenAfter = cachedRefreshTokens(pca);
    assert.equal(refreshTokenAfter.length, 1);
    assert.notEqual(refreshTokenAfter[0], refreshTokenBefore[0], 'Latchkey rotated the refresh token and MSAL stored the new one');

    const again = await pca.acquireTokenSilent({ account: first.account, scopes: [`${API}/read:sample`], forceRefresh: true });
    assert.equal(again.fromCache, false, 'the rotated refresh token works too');
  });

  it('{identifier}/.default gets every scope of the API, on the password grant and on refresh', async () => {
    const pca = publicClient();
    const result = await pca.acquireTokenByUsernamePassword({
      scopes: [`${API}/.default`],
      username: ALICE.username,
      password: ALICE.password,
    });
    assert.ok(result?.account);
    const at = await verifyToken(result.accessToken, API);
    assert.deepEqual(scopeList(at.scope), ['edit', 'offline_access', 'openid', 'profile', 'read:sample', 'write:sample']);
    const refreshed = await pca.acquireTokenSilent({ account: result.account, scopes: [`${API}/.default`], forceRefresh: true });
    assert.deepEqual(scopeList((await verifyToken(refreshed.accessToken, API)).scope), [
      'edit',
      'offline_access',
      'openid',
      'profile',
      'read:sample',
      'write:sample',
    ]);
  });

  it('a wrong password surfaces as an MSAL ServerError with errorCode invalid_grant', async () => {
    await assert.rejects(
      publicClient().acquireTokenByUsernamePassword({
        scopes: [`${API}/read:sample`],
        username: ALICE.username,
        password: 'wrong password',
      }),
      (err: unknown) => {
        assert.ok(err instanceof AuthError, String(err));
        assert.ok(err instanceof ServerError, `${err.name}: ${err.errorCode}`);
        assert.equal(err.errorCode, 'invalid_grant');
        return true;
      },
    );
  });

  it('ConfidentialClientApplication.acquireTokenByClientCredential (client_secret in the body) gets an API token', async () => {
    const cca = new ConfidentialClientApplication(config({ clientId: WEB.client_id, clientSecret: WEB.client_secret }));
    const result = await cca.acquireTokenByClientCredential({ scopes: [`${API}/.default`] });
    assert.ok(result);
    const at = await verifyToken(result.accessToken, API);
    assert.equal(at.sub, WEB.client_id);
    assert.equal(at.client_id, WEB.client_id);
  });
});
