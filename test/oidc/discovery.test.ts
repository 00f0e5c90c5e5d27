/**
 * OpenID Connect Discovery 1.0 §4 and RFC 8414 §3, and the JWKS (RFC 7517).
 *
 * OIDC Discovery §4.3: "The issuer value returned MUST be identical to the
 * Issuer URL that was used as the prefix to /.well-known/openid-configuration
 * to retrieve the configuration information. This MUST also be identical to
 * the iss Claim value in ID Tokens issued from this Issuer."
 * RFC 8414 §3: "the well-known URI string [...] is inserted into the
 * authorization server's issuer identifier between the host component and
 * the path component, if any"; §3.1: "any terminating "/" MUST be removed
 * before inserting" — so issuer {url}/acme/ is discovered at
 * {url}/.well-known/oauth-authorization-server/acme.
 * RFC 8414 §3.3: "The "issuer" value returned MUST be identical to the
 * authorization server's issuer identifier value into which the well-known
 * URI string was inserted".
 * RFC 7517 §4.2/§4.4: `use` and `alg` of each key; RFC 7518 §6.2.2/§6.3.2:
 * `d`, `p`, `q`, `dp`, `dq`, `qi` are private key members.
 *
 * DESIGN.md §3: the issuer is exactly `{public_url}/T/`, trailing slash
 * included; discovery lists an `authorization_endpoint` (MSAL requires one)
 * and, in `id_token_signing_alg_values_supported`, every algorithm any API
 * signs with.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, ALL_GRANTS, API, API_EDDSA, API_ES256, SEED_API, WEB, acmeFixture } from '../helpers/fixtures.js';
import { decodeJwt, get, postForm, type JsonResponse } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { fetchJwks, verifyIssued } from '../helpers/token-checks.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describe('OIDC Discovery 1.0 §4 / RFC 8414 §3: metadata and JWKS', () => {
  let server: TestServer;
  let documents: Array<[string, JsonResponse]>;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
    const urls = [
      `${server.url}/acme/.well-known/openid-configuration`,
      `${server.url}/acme/.well-known/oauth-authorization-server`,
      `${server.url}/.well-known/oauth-authorization-server/acme`,
    ];
    documents = await Promise.all(urls.map(async (url): Promise<[string, JsonResponse]> => [url, await get(url)]));
  });
  after(() => server.close());

  const stringMember = (res: JsonResponse, name: string): string => {
    const value = res.body[name];
    assert.equal(typeof value, 'string', `${name} is a string`);
    return value as string;
  };
  const listMember = (res: JsonResponse, name: string): string[] => {
    const value = res.body[name];
    assert.ok(Array.isArray(value) && value.every((v) => typeof v === 'string'), `${name} is a list of strings`);
    return value as string[];
  };

  it('all three well-known URLs answer 200 JSON with issuer exactly {url}/acme/', () => {
    for (const [url, res] of documents) {
      assert.equal(res.status, 200, `${url}: ${res.text}`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, url);
      assert.equal(res.body.issuer, `${server.url}/acme/`, url);
    }
  });

  it('§4.3: the issuer is the prefix the openid-configuration was fetched from', () => {
    const [url, res] = documents[0] ?? assert.fail('no document');
    assert.equal(`${stringMember(res, 'issuer')}.well-known/openid-configuration`, url);
  });

  it('the three documents agree', () => {
    const [first, ...rest] = documents.map(([, res]) => res.body);
    for (const other of rest) assert.deepEqual(other, first);
  });

  it('every endpoint lies under the issuer and is the one the server serves', () => {
    const [, res] = documents[0] ?? assert.fail('no document');
    const issuer = server.issuer();
    const expected: Record<string, string> = {
      authorization_endpoint: `${issuer}authorize`,
      token_endpoint: `${issuer}oauth/token`,
      userinfo_endpoint: `${issuer}userinfo`,
      jwks_uri: `${issuer}.well-known/jwks.json`,
      revocation_endpoint: `${issuer}oauth/revoke`,
      introspection_endpoint: `${issuer}oauth/introspect`,
    };
    for (const [name, url] of Object.entries(expected)) assert.equal(stringMember(res, name), url, name);
    for (const [name, value] of Object.entries(res.body)) {
      if (name.endsWith('_endpoint') || name.endsWith('_uri')) assert.ok(String(value).startsWith(issuer), `${name} ${String(value)}`);
    }
  });

  it('the advertised jwks_uri and authorization_endpoint answer (the latter, without a client, with an HTML page, not a 404)', async () => {
    const [, res] = documents[0] ?? assert.fail('no document');
    const jwks = await get(stringMember(res, 'jwks_uri'));
    assert.equal(jwks.status, 200);
    const authorize = await fetch(stringMember(res, 'authorization_endpoint'));
    assert.equal(authorize.status, 400);
    assert.match(authorize.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await authorize.text(), /did not identify itself/);
  });

  it('DESIGN.md §7: the code flow with PKCE S256 only, and the issuer in every authorization response', () => {
    const [, res] = documents[0] ?? assert.fail('no document');
    assert.deepEqual(res.body.response_types_supported, ['code']);
    assert.deepEqual(res.body.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(res.body.response_modes_supported, ['query', 'form_post']);
    assert.equal(res.body.authorization_response_iss_parameter_supported, true);
    assert.ok(listMember(res, 'grant_types_supported').includes('authorization_code'));
  });

  it('grant_types_supported lists every grant, the three Auth0 MFA grants included', () => {
    const [, res] = documents[0] ?? assert.fail('no document');
    const grants = listMember(res, 'grant_types_supported');
    for (const grant of ALL_GRANTS) assert.ok(grants.includes(grant), grant);
    for (const factor of ['otp', 'oob', 'recovery-code'])
      assert.ok(grants.includes(`http://auth0.com/oauth/grant-type/mfa-${factor}`), factor);
  });

  it('id_token_signing_alg_values_supported has RS256, ES256 and EdDSA, the algorithms the fixture APIs sign with', () => {
    const [, res] = documents[0] ?? assert.fail('no document');
    const algs = listMember(res, 'id_token_signing_alg_values_supported');
    for (const alg of ['RS256', 'ES256', 'EdDSA']) assert.ok(algs.includes(alg), alg);
    assert.ok(!algs.includes('none') && !algs.includes('HS256'));
  });

  it('the issuer equals the iss of every token the server issues, on every path and algorithm', async () => {
    const [, res] = documents[0] ?? assert.fail('no document');
    const issuer = stringMember(res, 'issuer');
    for (const audience of [API, API_ES256, API_EDDSA, SEED_API]) {
      const tokens = await postForm(server.at('/oauth/token'), {
        grant_type: 'password',
        username: ALICE.username,
        password: ALICE.password,
        audience,
        scope: 'openid',
        ...WEB,
      });
      assert.equal(tokens.status, 200, tokens.text);
      assert.equal(decodeJwt(String(tokens.body.access_token)).payload.iss, issuer, `access token for ${audience}`);
      assert.equal(decodeJwt(String(tokens.body.id_token)).payload.iss, issuer, `id_token for ${audience}`);
    }
    for (const path of ['/oauth2/v2.0/token', '/as/token.oauth2']) {
      const tokens = await postForm(server.at(path), { grant_type: 'client_credentials', audience: API, ...WEB });
      assert.equal(tokens.status, 200, tokens.text);
      assert.equal(decodeJwt(String(tokens.body.access_token)).payload.iss, issuer, path);
    }
  });

  it('an unknown tenant is a 404 JSON error on every discovery path and the JWKS', async () => {
    for (const url of [
      `${server.url}/nope/.well-known/openid-configuration`,
      `${server.url}/nope/.well-known/oauth-authorization-server`,
      `${server.url}/.well-known/oauth-authorization-server/nope`,
      `${server.url}/nope/.well-known/jwks.json`,
    ]) {
      const res = await get(url);
      assert.equal(res.status, 404, url);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, url);
      assert.equal(typeof res.body.error, 'string', url);
      assert.equal(res.body.issuer, undefined, url);
    }
  });

  describe('JWKS', () => {
    it('every kid used in issued tokens (RS256, ES256, EdDSA; access and id tokens) is published with its alg', async () => {
      const seen = new Map<string, string>();
      for (const audience of [API, API_ES256, API_EDDSA]) {
        const tokens = await postForm(server.at('/oauth/token'), {
          grant_type: 'password',
          username: ALICE.username,
          password: ALICE.password,
          audience,
          scope: 'openid',
          ...WEB,
        });
        assert.equal(tokens.status, 200, tokens.text);
        for (const jwt of [tokens.body.access_token, tokens.body.id_token]) {
          const { header } = decodeJwt(String(jwt));
          assert.equal(typeof header.kid, 'string');
          seen.set(String(header.kid), String(header.alg));
          // And it verifies against the published set, which jose checks by kid and alg.
          await verifyIssued(server, jwt, {});
        }
      }
      assert.deepEqual(new Set(seen.values()), new Set(['RS256', 'ES256', 'EdDSA']));
      const { keys } = await fetchJwks(server);
      for (const [kid, alg] of seen) {
        const key = keys.find((k) => k.kid === kid);
        assert.ok(key, `kid ${kid} (${alg}) is in the JWKS`);
        assert.equal(key.alg, alg);
      }
    });

    it('every key has a kid, use "sig" and an alg, and kids are unique', async () => {
      const { keys } = await fetchJwks(server);
      assert.ok(keys.length >= 3);
      for (const key of keys) {
        assert.equal(typeof key.kid, 'string');
        assert.equal(key.use, 'sig', `kid ${String(key.kid)}`);
        assert.ok(key.alg === 'RS256' || key.alg === 'ES256' || key.alg === 'EdDSA', `alg ${String(key.alg)}`);
        assert.equal(key.kty, key.alg === 'RS256' ? 'RSA' : key.alg === 'ES256' ? 'EC' : 'OKP');
      }
      assert.equal(new Set(keys.map((k) => k.kid)).size, keys.length);
    });

    it('no private key member appears anywhere in the document', async () => {
      const res = await get(`${server.issuer()}.well-known/jwks.json`);
      assert.equal(res.status, 200);
      const found: string[] = [];
      const walk = (value: unknown, path: string): void => {
        if (Array.isArray(value))
          value.forEach((v, i) => {
            walk(v, `${path}[${i}]`);
          });
        else if (typeof value === 'object' && value !== null) {
          for (const [name, member] of Object.entries(value)) {
            if (PRIVATE_MEMBERS.includes(name)) found.push(`${path}.${name}`);
            walk(member, `${path}.${name}`);
          }
        }
      };
      walk(res.body, '$');
      assert.deepEqual(found, []);
    });
  });
});
