/**
 * Seed: Auth0 "Realm Support" (shared/seeds/002, 003).
 *
 *   "A extension grant that offers similar functionality with the Resource
 *   Owner Password Grant, including the ability to indicate a specific
 *   realm, is the http://auth0.com/oauth/grant-type/password-realm. Realms
 *   allow you to keep separate user directories and specify which one to
 *   use to the token endpoint. [...] Set the grant_type to
 *   http://auth0.com/oauth/grant-type/password-realm. Set the new request
 *   parameter realm to the realm the user belongs. This maps to a connection
 *   in Auth0. For example, if you have configured a database connection for
 *   your internal employees and you have named the connection employees,
 *   then use this value."
 *
 *   {"grant_type":"http://auth0.com/oauth/grant-type/password-realm",
 *    "username": "user@example.com","password": "pwd",
 *    "audience": "https://someapi.com/api", "scope": "read:sample",
 *    "client_id": "${account.clientId}", "client_secret": "${account.clientSecret}",
 *    "realm": "employees"}
 *
 *   "the submitted realm will be used to verify the password."
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EMPLOYEE, SEED_API, SEED_USER, WEB, acmeFixture } from '../helpers/fixtures.js';
import { postForm, postJson, postRaw } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { verifyIssued } from '../helpers/token-checks.js';

const REALM_GRANT = 'http://auth0.com/oauth/grant-type/password-realm';

describe('Auth0 seed: password-realm grant', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
    token = server.at('/oauth/token');
  });
  after(() => server.close());

  const realmRequest = (extra: Record<string, string> = {}): Record<string, string> => ({
    grant_type: REALM_GRANT,
    username: EMPLOYEE.username,
    password: EMPLOYEE.password,
    audience: SEED_API,
    scope: 'read:sample',
    ...WEB,
    realm: 'employees',
    ...extra,
  });

  it('the seed\'s JSON request, with realm "employees", signs in the employee', async () => {
    // The seed's HAR text with the fixture's employee and client in place of the placeholders.
    const text = `{"grant_type":"${REALM_GRANT}","username": "${EMPLOYEE.username}","password": "${EMPLOYEE.password}","audience": "https://someapi.com/api", "scope": "read:sample", "client_id": "${WEB.client_id}", "client_secret": "${WEB.client_secret}", "realm": "employees"}`;
    const res = await postRaw(token, text, { 'content-type': 'application/json' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, 36000);
    assert.equal(res.body.scope, undefined, 'issued scopes equal the request');
    const { payload } = await verifyIssued(server, res.body.access_token, { audience: SEED_API });
    assert.equal(payload.scope, 'read:sample');
    assert.equal(payload.client_id, WEB.client_id);
    assert.equal(typeof payload.sub, 'string');
  });

  it('the same request as a form body works too', async () => {
    const res = await postForm(token, realmRequest());
    assert.equal(res.status, 200, res.text);
  });

  it('the same employee without realm is looked up in the default directory and fails with invalid_grant', async () => {
    const plain = realmRequest({ grant_type: 'password' });
    delete plain.realm;
    const res = await postJson(token, plain);
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_grant');
    assert.equal(res.body.access_token, undefined);
  });

  it('password-realm with no realm at all is invalid_request, naming realm', async () => {
    const params = realmRequest();
    delete params.realm;
    const res = await postJson(token, params);
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_request');
    assert.match(String(res.body.error_description), /realm/);
  });

  it('an unknown realm is invalid_request, whether or not the password is right', async () => {
    for (const password of [EMPLOYEE.password, 'not the password']) {
      const res = await postJson(token, realmRequest({ realm: 'contractors', password }));
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'invalid_request');
    }
  });

  it('realms keep directories apart: a default-directory user is not found in "employees"', async () => {
    const res = await postJson(token, realmRequest({ username: SEED_USER.username, password: SEED_USER.password }));
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_grant');
    const home = await postJson(
      token,
      realmRequest({ username: SEED_USER.username, password: SEED_USER.password, realm: 'Username-Password-Authentication' }),
    );
    assert.equal(home.status, 200, home.text);
  });

  it('a wrong password in the right realm is invalid_grant', async () => {
    const res = await postJson(token, realmRequest({ password: 'employee password 2' }));
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_grant');
  });

  it('the realm user and the default-directory user are different subjects', async () => {
    const employee = await postJson(token, realmRequest());
    const seedUser = await postJson(
      token,
      realmRequest({ username: SEED_USER.username, password: SEED_USER.password, realm: 'Username-Password-Authentication' }),
    );
    assert.equal(employee.status, 200, employee.text);
    assert.equal(seedUser.status, 200, seedUser.text);
    const a = await verifyIssued(server, employee.body.access_token, { audience: SEED_API });
    const b = await verifyIssued(server, seedUser.body.access_token, { audience: SEED_API });
    assert.notEqual(a.payload.sub, b.payload.sub);
  });
});
