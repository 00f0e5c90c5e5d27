/**
 * The authorization request's checks as pure functions (RFC 6749 §3.1.2,
 * §4.1.2.1; RFC 8252 §7.1 and §7.3; RFC 7636; RFC 9700 §2.1): which
 * callbacks may be registered, how a redirect_uri is compared (exactly; a
 * loopback one on any port), which errors are a page and which go back to the
 * callback, and the sealed sign-in transaction.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isRegistrableRedirectUri } from '../../src/config/schema.js';
import { Sealer } from '../../src/crypto/secrets.js';
import { Catalog } from '../../src/domain/tenant.js';
import {
  AuthorizationPageError,
  AuthorizationRedirectError,
  callbackUrl,
  matchesCallback,
  parseAuthorizationRequest,
} from '../../src/oauth/browser/authorization-request.js';
import { LoginTransactions } from '../../src/oauth/browser/login-transaction.js';
import { RequestParameters } from '../../src/oauth/request-parameters.js';
import type { ApplicationSettings } from '../../src/storage/stores.js';
import { TestClock } from '../helpers/clock.js';

const CALLBACK = 'https://app.test/callback';
const LOOPBACK = 'http://127.0.0.1/cb';

const settings = (overrides: Partial<ApplicationSettings> = {}): ApplicationSettings => ({
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code'],
  callbacks: [CALLBACK, LOOPBACK],
  allowed_logout_urls: [],
  refresh_token: { reuse_interval: 0, idle_lifetime: 60, absolute_lifetime: 60 },
  resource_server: false,
  trust_forwarded_for: false,
  ...overrides,
});

const tenant =
  new Catalog('https://id.test', {
    tenants: [{ id: 't1', name: 'acme', settings: { id_token_signing_alg: 'RS256', id_token_lifetime: 60 } }],
    connections: [],
    apis: [],
    applications: [
      { id: 'a1', tenantId: 't1', clientId: 'spa', clientSecretHash: null, settings: settings() },
      { id: 'a2', tenantId: 't1', clientId: 'password-only', clientSecretHash: null, settings: settings({ grant_types: ['password'] }) },
    ],
    clientGrants: [],
  }).tenant('acme') ?? assert.fail('no tenant');

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const parse = (query: Record<string, string>) =>
  parseAuthorizationRequest(
    tenant,
    RequestParameters.fromForm(
      new URLSearchParams({
        client_id: 'spa',
        redirect_uri: CALLBACK,
        response_type: 'code',
        code_challenge: CHALLENGE,
        code_challenge_method: 'S256',
        ...query,
      }).toString(),
    ),
  );

function redirectError(query: Record<string, string>): AuthorizationRedirectError {
  try {
    parse(query);
  } catch (err) {
    if (err instanceof AuthorizationRedirectError) return err;
    throw err;
  }
  assert.fail(`no error for ${JSON.stringify(query)}`);
}

describe('isRegistrableRedirectUri (RFC 8252 §7)', () => {
  it('takes https, private-use schemes with a dot, and http to loopback hosts only', () => {
    for (const ok of [
      'https://app.test/cb',
      'com.example.app:/callback',
      'http://127.0.0.1:8080/cb',
      'http://[::1]/cb',
      'http://localhost:3000/',
    ])
      assert.equal(isRegistrableRedirectUri(ok), true, ok);
    for (const bad of ['http://app.test/cb', 'javascript:alert(1)', 'data:text/html,x', 'https://app.test/cb#frag', 'notaurl', 'myapp:/cb'])
      assert.equal(isRegistrableRedirectUri(bad), false, bad);
  });
});

describe('matchesCallback (RFC 9700 §2.1, RFC 8252 §7.3)', () => {
  it('compares exactly: a trailing slash, a query, a case change or one character off is another URI', () => {
    assert.equal(matchesCallback(CALLBACK, [CALLBACK]), true);
    for (const other of [
      `${CALLBACK}/`,
      `${CALLBACK}?a=1`,
      'https://APP.test/callback',
      'https://app.test/callbacc',
      'https://app.test:443/callback',
    ])
      assert.equal(matchesCallback(other, [CALLBACK]), false, other);
  });

  it('a loopback callback matches on any port, but nothing else may differ', () => {
    assert.equal(matchesCallback('http://127.0.0.1:51234/cb', [LOOPBACK]), true);
    assert.equal(matchesCallback('http://127.0.0.1:51234/cb', ['http://127.0.0.1:3000/cb']), true);
    assert.equal(matchesCallback('http://127.0.0.1:51234/cb/', [LOOPBACK]), false);
    assert.equal(matchesCallback('http://127.0.0.1:51234/cb?x', [LOOPBACK]), false);
    assert.equal(matchesCallback('http://localhost:51234/cb', ['http://localhost/cb']), false, 'localhost is a name, not a loopback IP');
  });
});

describe('parseAuthorizationRequest (RFC 6749 §4.1.2.1)', () => {
  it('a missing or unknown client and a missing or unregistered redirect_uri are pages, never redirects', () => {
    const page = (params: Record<string, string>) => assert.throws(() => parse(params), AuthorizationPageError);
    page({ client_id: '' });
    page({ client_id: 'nobody' });
    page({ redirect_uri: '' });
    page({ redirect_uri: 'https://evil.test/callback' });
  });

  it('PKCE S256 is required: plain, a missing method or challenge, a malformed challenge go back as invalid_request', () => {
    assert.equal(redirectError({ code_challenge_method: 'plain' }).error.error, 'invalid_request');
    assert.equal(redirectError({ code_challenge_method: '' }).error.error, 'invalid_request');
    assert.equal(redirectError({ code_challenge: '' }).error.error, 'invalid_request');
    assert.equal(redirectError({ code_challenge: 'short' }).error.error, 'invalid_request');
  });

  it('other errors go back to the callback with state and iss', () => {
    const err = redirectError({ response_type: 'token', state: 's1' });
    assert.equal(err.error.error, 'unsupported_response_type');
    const url = new URL(callbackUrl(err.target, { error: err.error.error }));
    assert.equal(url.searchParams.get('state'), 's1');
    assert.equal(url.searchParams.get('iss'), 'https://id.test/acme/');
    assert.equal(redirectError({ prompt: 'none login' }).error.error, 'invalid_request');
    assert.equal(redirectError({ max_age: '-1' }).error.error, 'invalid_request');
    assert.equal(redirectError({ request: 'eyJ' }).error.error, 'request_not_supported');
    assert.equal(redirectError({ audience: 'https://unknown.test' }).error.error, 'invalid_target');
  });

  it('an application without the authorization_code grant is unauthorized_client at its callback', () => {
    assert.throws(
      () =>
        parseAuthorizationRequest(
          tenant,
          RequestParameters.fromForm(`client_id=password-only&redirect_uri=${encodeURIComponent(CALLBACK)}&response_type=code`),
        ),
      (err: unknown) => err instanceof AuthorizationRedirectError && err.error.error === 'unauthorized_client',
    );
  });

  it('unknown parameters are ignored; prompt, max_age, nonce, login_hint are read', () => {
    const request = parse({ client_info: '1', 'x-client-SKU': 'msal', prompt: 'login', max_age: '300', nonce: 'n', login_hint: 'a@b' });
    assert.equal(request.prompt, 'login');
    assert.equal(request.maxAge, 300);
    assert.equal(request.nonce, 'n');
    assert.equal(request.loginHint, 'a@b');
    assert.equal(request.target.responseMode, 'query');
  });
});

describe('LoginTransactions', () => {
  const clock = new TestClock();
  const transactions = new LoginTransactions(new Sealer(randomBytes(32), 'login-transaction'), clock);
  const sealed = transactions.seal(transactions.begin({ tenantId: 't1', clientId: 'spa', purpose: { kind: 'authorize', query: 'a=1' } }));

  it('opens for its tenant, and refuses another tenant, an altered value and an expired one with one plain sentence', () => {
    assert.equal(transactions.open(sealed, 't1').clientId, 'spa');
    assert.throws(() => transactions.open(sealed, 't2'), /no longer valid/);
    assert.throws(() => transactions.open(`${sealed.slice(0, -4)}AAAA`, 't1'), /no longer valid/);
    assert.throws(() => transactions.open(undefined, 't1'), /no longer valid/);
    clock.advance(3601);
    assert.throws(() => transactions.open(sealed, 't1'), /no longer valid/);
  });
});
