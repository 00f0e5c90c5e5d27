/**
 * RFC 7523 §2.2 / §3 JWT client authentication (private_key_jwt), with the
 * audience rule of OpenID Connect Core §9 as revised after CVE-2025-27370.
 *
 * RFC 7523 §2.2: "client_assertion_type […] MUST be
 * "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"."
 * §3: "1. The JWT MUST contain an "iss" (issuer) claim […]. 2. […] For
 * client authentication, the subject MUST be the "client_id" of the OAuth
 * client. 3. The JWT MUST contain an "aud" (audience) claim containing a
 * value that identifies the authorization server as an intended audience.
 * […] The authorization server MUST reject any JWT that does not contain its
 * own identity as the intended audience. 4. The JWT MUST contain an "exp"
 * (expiration time) claim that limits the time window during which the JWT
 * can be used. The authorization server MUST reject any JWT with an
 * expiration time that has passed, subject to allowable clock skew […].
 * The authorization server may reject JWTs with an "exp" claim value that is
 * unreasonably far in the future. […] 7. The JWT MAY contain a "jti" (JWT
 * ID) claim […]. The authorization server MAY ensure that JWTs are not
 * replayed by maintaining the set of used "jti" values for the length of
 * time for which the JWT would be considered valid based on the applicable
 * "exp" instant. 9. The JWT MUST be digitally signed or have a Message
 * Authentication Code (MAC) applied by the issuer. The authorization server
 * MUST reject JWTs with an invalid signature or MAC."
 * OIDC Core §9 (private_key_jwt), as revised: "iss REQUIRED. Issuer. This
 * MUST contain the client_id of the OAuth Client. sub REQUIRED. Subject.
 * This MUST contain the client_id of the OAuth Client. aud REQUIRED.
 * Audience. The aud (audience) Claim. Value that identifies the
 * Authorization Server as an intended audience. The Authorization Server
 * MUST verify that it is an intended audience for the token. The value
 * SHOULD be the Issuer Identifier of the OP […]. jti REQUIRED. JWT ID. A
 * unique identifier for the token, which can be used to prevent reuse of the
 * token. These tokens MUST only be used once".
 * DESIGN.md §3 fixes the choices the texts leave open: `aud` a single string
 * equal to the issuer or to the token endpoint URL the request was sent to;
 * `jti` required and single-use; `exp` at most 5 minutes ahead, 60 s skew;
 * `kid` optional when the client has one key.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import { API, JWT_CLIENT, WEB, acmeFixture, type AcmeFixture } from '../helpers/fixtures.js';
import { basic, get, postForm, postJson, type JsonResponse } from '../helpers/http.js';
import {
  JWT_BEARER,
  assertOAuthError,
  assertTokenResponse,
  assertionClaims,
  epoch,
  hs256Jwt,
  signAssertion,
  unsecuredJwt,
  type AssertionClaims,
} from '../helpers/oauth-assertions.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('RFC 7523 §3 private_key_jwt client authentication', () => {
  let server: TestServer;
  let fixture: AcmeFixture;
  let tokenUrl: string;

  before(async () => {
    fixture = await acmeFixture();
    server = await startTestServer({ tenants: [fixture.tenant] });
    tokenUrl = server.at('/oauth/token');
  });
  after(() => server.close());

  /** Claims for the JWT client at the server's current time. */
  const claims = (overrides: AssertionClaims = {}): JWTPayload =>
    assertionClaims(JWT_CLIENT.client_id, server.issuer(), server.clock.now(), overrides);

  const sign = (payload: JWTPayload, kid: string | undefined = fixture.jwtClientKid): Promise<string> =>
    signAssertion(payload, { key: fixture.jwtClientKey, kid });

  /** A client_credentials request authenticated by `assertion`. */
  const present = (assertion: string, url = tokenUrl, extra: Record<string, string> = {}): Promise<JsonResponse> =>
    postForm(url, {
      grant_type: 'client_credentials',
      audience: API,
      client_assertion_type: JWT_BEARER,
      client_assertion: assertion,
      ...extra,
    });

  /** invalid_client, 401, no Basic challenge; `because` checks the description names the cause where the server tells it. */
  const refused = (res: JsonResponse, message: string, because?: RegExp): void => {
    assertOAuthError(res, 401, 'invalid_client', message);
    assert.equal(res.headers.get('www-authenticate'), null, `${message}: no Basic challenge for an assertion`);
    if (because) assert.match(String(res.body.error_description), because, message);
  };

  describe('accepted', () => {
    it('a well-formed assertion with aud = the issuer gets a token for the client', async () => {
      const res = await present(await sign(claims()));
      const accessToken = assertTokenResponse(res);
      const payload = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as JWTPayload;
      assert.equal(payload.client_id, JWT_CLIENT.client_id);
      assert.equal(payload.sub, JWT_CLIENT.client_id);
    });

    it('client_id in the body is optional, and accepted when it equals sub', async () => {
      assertTokenResponse(await present(await sign(claims()), tokenUrl, { client_id: JWT_CLIENT.client_id }));
    });

    it('a JSON body on the Auth0 path', async () => {
      const res = await postJson(tokenUrl, {
        grant_type: 'client_credentials',
        audience: API,
        client_assertion_type: JWT_BEARER,
        client_assertion: await sign(claims()),
      });
      assertTokenResponse(res);
    });

    for (const [name, path] of [
      ['Auth0', '/oauth/token'],
      ['Entra', '/oauth2/v2.0/token'],
      ['PingFederate', '/as/token.oauth2'],
    ] as const) {
      it(`aud = the ${name} token endpoint URL the request is sent to (${path})`, async () => {
        const url = server.at(path);
        assertTokenResponse(await present(await sign(claims({ aud: url })), url));
      });

      it(`aud = the issuer on the ${name} path`, async () => {
        const url = server.at(path);
        assertTokenResponse(await present(await sign(claims()), url));
      });
    }

    it('kid may be omitted: the client has exactly one key', async () => {
      assertTokenResponse(await present(await sign(claims(), undefined)));
    });

    it('exp at the limit: 5 minutes ahead plus the 60 s skew', async () => {
      const now = epoch(server.clock.now());
      assertTokenResponse(await present(await sign(claims({ iat: now, exp: now + 300 }))), '300 s');
      assertTokenResponse(await present(await sign(claims({ iat: now, exp: now + 360 }))), '360 s');
    });

    it('exp just passed, within the 60 s skew', async () => {
      const now = epoch(server.clock.now());
      assertTokenResponse(await present(await sign(claims({ iat: now - 60, exp: now - 20 }))));
    });
  });

  describe('§3 item 3 / OIDC Core §9: aud is one string, the issuer or this endpoint', () => {
    it('aud as an array is refused, even when it holds only the issuer', async () => {
      refused(await present(await sign(claims({ aud: [server.issuer()] }))), '[issuer]', /aud/);
      refused(await present(await sign(claims({ aud: [server.issuer(), tokenUrl] }))), '[issuer, token]', /aud/);
      refused(await present(await sign(claims({ aud: [tokenUrl] }))), '[token]', /aud/);
    });

    it('aud of another token endpoint path is refused', async () => {
      refused(
        await present(await sign(claims({ aud: server.at('/as/token.oauth2') })), server.at('/oauth/token')),
        'ping aud at auth0 path',
        /aud/,
      );
      refused(
        await present(await sign(claims({ aud: server.at('/oauth/token') })), server.at('/oauth2/v2.0/token')),
        'auth0 aud at entra path',
        /aud/,
      );
      refused(
        await present(await sign(claims({ aud: server.at('/oauth2/v2.0/token') })), server.at('/as/token.oauth2')),
        'entra aud at ping path',
        /aud/,
      );
    });

    it('aud of another endpoint of this server, or near-misses of the issuer, is refused', async () => {
      const near = [
        server.at('/oauth/introspect'),
        server.at('/oauth/revoke'),
        server.issuer().replace(/\/$/, ''),
        `${server.issuer()}/`,
        server.issuer().toUpperCase(),
        server.url,
        API,
        `${server.url}/other/`,
      ];
      for (const aud of near) refused(await present(await sign(claims({ aud }))), aud, /aud/);
    });

    it('a missing aud is refused', async () => {
      refused(await present(await sign(claims({ aud: undefined }))), 'no aud');
    });
  });

  describe('§3 items 1-2: iss and sub both the client_id', () => {
    it('iss different from sub is refused', async () => {
      refused(await present(await sign(claims({ iss: 'someone-else' }))), 'iss other', /iss and sub/);
      refused(await present(await sign(claims({ iss: undefined }))), 'no iss');
    });

    it('sub different from the client_id in the body is refused', async () => {
      const res = await present(await sign(claims({ iss: WEB.client_id, sub: WEB.client_id })), tokenUrl, {
        client_id: JWT_CLIENT.client_id,
      });
      refused(res, 'sub = another client');
    });

    it('an assertion naming another client, signed by this client key, does not authenticate that client', async () => {
      // acme-web is registered for client_secret_post: an assertion can never authenticate it.
      refused(await present(await sign(claims({ iss: WEB.client_id, sub: WEB.client_id }))), 'assertion for a secret client');
      refused(await present(await sign(claims({ iss: 'no-such-client', sub: 'no-such-client' }))), 'unknown client');
    });

    it('a missing sub is refused', async () => {
      refused(await present(await sign(claims({ sub: undefined }))), 'no sub');
    });
  });

  describe('§3 item 7 / OIDC Core §9: jti required and single-use', () => {
    it('a missing jti is refused', async () => {
      refused(await present(await sign(claims({ jti: undefined }))), 'no jti');
    });

    it('a replayed assertion is refused on second use', async () => {
      const assertion = await sign(claims());
      assertTokenResponse(await present(assertion), 'first use');
      refused(await present(assertion), 'second use', /already used/);
    });

    it('a replay on another token endpoint path is refused too', async () => {
      const assertion = await sign(claims());
      assertTokenResponse(await present(assertion, server.at('/oauth/token')), 'first use');
      refused(await present(assertion, server.at('/as/token.oauth2')), 'second use on the Ping path', /already used/);
    });

    it('a new assertion reusing a jti is refused', async () => {
      const jti = randomUUID();
      assertTokenResponse(await present(await sign(claims({ jti }))), 'first use');
      refused(await present(await sign(claims({ jti, exp: epoch(server.clock.now()) + 120 }))), 'same jti, new signature', /already used/);
    });

    it('a refused assertion does not burn its jti', async () => {
      const jti = randomUUID();
      refused(await present(await sign(claims({ jti, aud: API }))), 'wrong aud');
      assertTokenResponse(await present(await sign(claims({ jti }))), 'same jti, now valid');
    });
  });

  describe('§3 item 4: exp required, not passed, not too far ahead', () => {
    it('exp more than 5 minutes (+60 s skew) ahead is refused', async () => {
      const now = epoch(server.clock.now());
      refused(await present(await sign(claims({ iat: now, exp: now + 420 }))), '7 minutes', /exp/);
      refused(await present(await sign(claims({ iat: now, exp: now + 86_400 }))), 'a day', /exp/);
    });

    it('an expired assertion is refused', async () => {
      const now = epoch(server.clock.now());
      refused(await present(await sign(claims({ iat: now - 600, exp: now - 120 }))), 'expired 2 minutes ago');
    });

    it('an assertion that expires while in flight is refused (server clock advanced)', async () => {
      const assertion = await sign(claims());
      server.clock.advance(60 + 61);
      refused(await present(assertion), 'exp + skew passed');
    });

    it('a missing exp is refused', async () => {
      refused(await present(await sign(claims({ exp: undefined }))), 'no exp');
    });
  });

  describe('§3 item 9: signed by a registered key with an asymmetric algorithm', () => {
    it('signed by another key is refused, with or without the registered kid', async () => {
      const other = await generateKeyPair('ES256');
      refused(await present(await signAssertion(claims(), { key: other.privateKey, kid: fixture.jwtClientKid })), 'registered kid');
      refused(await present(await signAssertion(claims(), { key: other.privateKey, kid: undefined })), 'no kid');
    });

    it('a key embedded in the header (jwk) is not trusted', async () => {
      const other = await generateKeyPair('ES256');
      const jwk = await exportJWK(other.publicKey);
      const assertion = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', jwk }).sign(other.privateKey);
      refused(await present(assertion), 'embedded jwk');
    });

    it('a kid the client did not register is refused', async () => {
      refused(await present(await sign(claims(), 'not-registered-kid')), 'unknown kid');
    });

    it('alg none is refused', async () => {
      refused(await present(unsecuredJwt(claims(), fixture.jwtClientKid)), 'none with kid');
      refused(await present(unsecuredJwt(claims())), 'none without kid');
    });

    it('HS256 is refused, even keyed with the client public key (algorithm confusion)', async () => {
      const app = fixture.tenant.applications?.find((a) => a.client_id === JWT_CLIENT.client_id);
      const publicJwk = app?.jwks?.keys[0];
      assert.ok(publicJwk, 'fixture JWT client has a public key');
      for (const secret of [JSON.stringify(publicJwk), String(publicJwk.x), 'any-shared-secret']) {
        refused(await present(hs256Jwt(claims(), secret, fixture.jwtClientKid)), `HS256 keyed with ${secret.slice(0, 20)}`);
      }
    });

    it('a tampered payload is refused', async () => {
      const [header, , signature] = (await sign(claims())).split('.');
      const forged = Buffer.from(JSON.stringify(claims({ exp: epoch(server.clock.now()) + 200 }))).toString('base64url');
      refused(await present(`${header}.${forged}.${signature}`), 'payload swapped');
    });

    it('something that is not a JWT is refused', async () => {
      refused(await present('not-a-jwt'), 'garbage');
    });
  });

  describe('RFC 8414 §2: discovery advertises the method and only asymmetric algorithms', () => {
    it('private_key_jwt is listed, and no none or HMAC signing algorithm', async () => {
      const res = await get(`${server.issuer()}.well-known/openid-configuration`);
      assert.equal(res.status, 200, res.text);
      const methods = res.body.token_endpoint_auth_methods_supported;
      assert.ok(Array.isArray(methods) && methods.includes('private_key_jwt'), JSON.stringify(methods));
      const algs = res.body.token_endpoint_auth_signing_alg_values_supported;
      assert.ok(Array.isArray(algs) && algs.includes('ES256'), JSON.stringify(algs));
      for (const alg of algs as unknown[]) assert.doesNotMatch(String(alg), /^(none|HS\d+)$/i);
    });
  });

  describe('§2.2: client_assertion_type', () => {
    // Refused before any signature is checked; invalid_request as node-oidc-provider answers a malformed method.
    it('a wrong client_assertion_type is refused', async () => {
      for (const type of [
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
        `${JWT_BEARER} `,
      ]) {
        const res = await postForm(tokenUrl, {
          grant_type: 'client_credentials',
          audience: API,
          client_assertion_type: type,
          client_assertion: await sign(claims()),
        });
        assertOAuthError(res, 400, 'invalid_request', type);
      }
    });

    it('a client_assertion without client_assertion_type, or the type without the assertion, is refused', async () => {
      const noType = await postForm(tokenUrl, { grant_type: 'client_credentials', audience: API, client_assertion: await sign(claims()) });
      assertOAuthError(noType, 400, 'invalid_request', 'no type');
      const noAssertion = await postForm(tokenUrl, {
        grant_type: 'client_credentials',
        audience: API,
        client_assertion_type: JWT_BEARER,
        client_id: JWT_CLIENT.client_id,
      });
      assertOAuthError(noAssertion, 400, 'invalid_request', 'no assertion');
    });

    it('an assertion alongside Basic credentials is two methods: invalid_request', async () => {
      const res = await postForm(
        tokenUrl,
        { grant_type: 'client_credentials', audience: API, client_assertion_type: JWT_BEARER, client_assertion: await sign(claims()) },
        basic(JWT_CLIENT.client_id, 'whatever-secret'),
      );
      assertOAuthError(res, 400, 'invalid_request');
    });
  });
});
