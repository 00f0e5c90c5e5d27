/**
 * Auth0's express-oauth2-jwt-bearer, unchanged, protecting an Express API
 * with Latchkey access tokens (RFC 9068 JWTs) fetched over real HTTPS.
 *
 * The middleware discovers `{issuerBaseURL}.well-known/openid-configuration`,
 * takes `issuer` and `jwks_uri` from it, and accepts only the algorithms in
 * its `id_token_signing_alg_values_supported` (DESIGN.md §3: every algorithm
 * any API signs with). It fetches with node:https `https.get` and its
 * documented `agent` option, which here is an Agent trusting only the test
 * certificate. The Express app itself is plain HTTP on loopback: only the
 * authorization server has to be https.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import {
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  UnauthorizedError,
  auth,
  requiredScopes,
  type AuthOptions,
} from 'express-oauth2-jwt-bearer';
import { ALICE, API, API_EDDSA, API_ES256, WEB, acmeFixture } from '../helpers/fixtures.js';
import { get, type JsonResponse } from '../helpers/http.js';
import { member } from '../helpers/token-requests.js';
import { startHttpsTestServer, tlsUnavailableReason, trustingHttpsAgent, type HttpsTestServer } from '../helpers/tls.js';

/** The RS256 API's token_lifetime in the acme fixture. */
const API_LIFETIME = 3600;

describe('express-oauth2-jwt-bearer protecting an Express API with Latchkey access tokens over HTTPS', {
  skip: tlsUnavailableReason(),
}, () => {
  let https: HttpsTestServer;
  let agent: HttpsAgent;
  let api: Server;
  let apiUrl: string;

  /** An access token for `audience` from the password grant, over HTTPS. */
  async function accessToken(audience: string, scope: string): Promise<string> {
    const res = await https.postForm(https.at('/oauth/token'), {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      audience,
      scope,
      ...WEB,
    });
    assert.equal(res.status, 200, res.text);
    return member(res, 'access_token');
  }

  const call = (path: string, token?: string): Promise<JsonResponse> =>
    get(`${apiUrl}${path}`, token === undefined ? {} : { authorization: `Bearer ${token}` });

  /** RFC 6750 §3: the error code in the challenge the middleware sends. */
  const challengeError = (res: JsonResponse): string | undefined => /error="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1];

  before(async () => {
    https = await startHttpsTestServer({ tenants: [(await acmeFixture()).tenant] });
    agent = trustingHttpsAgent(https.certPem);
    const protect = (audience: string, scope: string, options: Partial<AuthOptions> = {}) => [
      auth({ issuerBaseURL: https.issuer(), audience, agent, ...options }),
      requiredScopes(scope),
    ];
    const show = (req: Request, res: Response) => {
      res.json({ sub: req.auth?.payload.sub, aud: req.auth?.payload.aud, alg: req.auth?.header.alg, typ: req.auth?.header.typ });
    };

    const app = express();
    app.get('/rs256', ...protect(API, 'read:sample'), show);
    app.get('/es256', ...protect(API_ES256, 'read:es'), show);
    app.get('/eddsa', ...protect(API_EDDSA, 'read:ed'), show);
    // strict: the RFC 9068 profile — typ at+jwt and iss, sub, aud, exp, iat, jti, client_id all required.
    app.get('/rs256/strict', ...protect(API, 'read:sample', { strict: true }), show);
    // A verifier whose clock reads lifetime ± 60 s later than the server's: the token's `exp` judged without sleeping.
    app.get('/rs256/an-hour-and-a-minute-later', ...protect(API, 'read:sample', { clockTolerance: -(API_LIFETIME + 60) }), show);
    app.get('/rs256/59-minutes-later', ...protect(API, 'read:sample', { clockTolerance: -(API_LIFETIME - 60) }), show);
    const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
      if (err instanceof UnauthorizedError) {
        const code =
          err instanceof InvalidTokenError || err instanceof InsufficientScopeError || err instanceof InvalidRequestError
            ? err.code
            : undefined;
        res.status(err.status).set(err.headers).json({ error: code, message: err.message });
        return;
      }
      res.status(500).json({ error: 'server_error', message: err instanceof Error ? err.message : String(err) });
    };
    app.use(onError);

    api = createServer(app);
    api.listen(0, '127.0.0.1');
    await once(api, 'listening');
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`; // a TCP listen always has an AddressInfo
  });
  after(async () => {
    if (api) {
      api.closeAllConnections();
      await new Promise<void>((resolve) => api.close(() => resolve()));
    }
    agent?.destroy();
    await https?.close();
  });

  it('discovery lists RS256, ES256 and EdDSA in id_token_signing_alg_values_supported, the list the middleware checks access tokens against', async () => {
    const res = await https.get(`${https.issuer()}.well-known/openid-configuration`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.issuer, https.issuer());
    const algs = res.body.id_token_signing_alg_values_supported;
    assert.ok(Array.isArray(algs), res.text);
    for (const alg of ['RS256', 'ES256', 'EdDSA']) assert.ok(algs.includes(alg), `${alg} missing from ${JSON.stringify(algs)}`);
  });

  for (const [path, audience, scope, alg] of [
    ['/rs256', API, 'read:sample', 'RS256'],
    ['/es256', API_ES256, 'read:es', 'ES256'],
    ['/eddsa', API_EDDSA, 'read:ed', 'EdDSA'],
  ] as const) {
    it(`accepts a Latchkey access token for the ${alg} API`, async () => {
      const res = await call(path, await accessToken(audience, scope));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.alg, alg);
      assert.equal(res.body.typ, 'at+jwt');
      assert.equal(typeof res.body.sub, 'string');
    });
  }

  it('accepts it in strict mode too: the token has the full RFC 9068 profile the middleware requires', async () => {
    const res = await call('/rs256/strict', await accessToken(API, 'read:sample'));
    assert.equal(res.status, 200, res.text);
  });

  it('refuses a request without a token: 401 with a Bearer challenge', async () => {
    const res = await call('/rs256');
    assert.equal(res.status, 401, res.text);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
  });

  it('refuses a token for another audience: 401 invalid_token', async () => {
    // ES256 is an accepted algorithm, so only the audience differs.
    const res = await call('/rs256', await accessToken(API_ES256, 'read:es'));
    assert.equal(res.status, 401, res.text);
    assert.equal(challengeError(res), 'invalid_token');
    assert.match(String(res.body.message), /'aud'/);
  });

  it('refuses a tampered token (payload changed, signature kept): 401 invalid_token', async () => {
    const [header, payload, signature] = (await accessToken(API, 'read:sample')).split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'read:sample write:sample edit' })).toString('base64url');
    const res = await call('/rs256', `${header}.${forged}.${signature}`);
    assert.equal(res.status, 401, res.text);
    assert.equal(challengeError(res), 'invalid_token');
    assert.match(String(res.body.message), /signature/);
  });

  it('refuses a token without the required scope: 403 insufficient_scope', async () => {
    const res = await call('/rs256', await accessToken(API, 'write:sample'));
    assert.equal(res.status, 403, res.text);
    assert.equal(challengeError(res), 'insufficient_scope');
    assert.match(res.headers.get('www-authenticate') ?? '', /scope="read:sample"/);
  });

  it("enforces the token's exp: refused by a verifier an hour and a minute later, accepted 59 minutes later", async () => {
    const token = await accessToken(API, 'read:sample');
    const late = await call('/rs256/an-hour-and-a-minute-later', token);
    assert.equal(late.status, 401, late.text);
    assert.equal(challengeError(late), 'invalid_token');
    assert.match(String(late.body.message), /"exp"/);
    const inTime = await call('/rs256/59-minutes-later', token);
    assert.equal(inTime.status, 200, inTime.text);
  });
});
