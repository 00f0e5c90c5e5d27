/**
 * DESIGN.md §4: "rotation keeps the old public key in the JWKS until the
 * last token it signed expires". A node picks up a rotation made elsewhere
 * (the CLI, another node) within its key cache time, even after being idle,
 * and never signs with a key that could leave the JWKS before its token expires.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Sealer } from '../../src/crypto/secrets.js';
import { decodeMasterKey } from '../../src/crypto/master-key.js';
import { KEY_CACHE_SECONDS, SigningKeys } from '../../src/tokens/signing-keys.js';
import { API_ES256, WEB, acmeFixture } from '../helpers/fixtures.js';
import { decodeJwt, get, postForm } from '../helpers/http.js';
import { TEST_MASTER_KEY, startTestServer, type TestServer } from '../helpers/server.js';

describe('signing key rotation seen by a running node', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
  });
  after(() => server.close());

  const mint = async () => {
    const res = await postForm(server.at('/oauth/token'), { grant_type: 'client_credentials', audience: API_ES256, ...WEB });
    assert.equal(res.status, 200, res.text);
    return decodeJwt(res.body.access_token as string).header.kid as string;
  };

  it('after a rotation elsewhere, an idle node signs with the new key once its cache expires; the old key stays published', async () => {
    const oldKid = await mint();
    // Another process (the CLI, another node) rotates through the same database.
    const runtime = server.server.runtime;
    const elsewhere = new SigningKeys(
      runtime.stores.signingKeys,
      new Sealer(decodeMasterKey(TEST_MASTER_KEY, 'test'), 'at-rest'),
      server.clock,
    );
    const tenantId = runtime.catalog.tenant('acme')?.id ?? '';
    const fresh = await elsewhere.rotate(tenantId, 'ES256', 600);
    assert.notEqual(fresh.kid, oldKid);

    // An hour of idleness: the next token must not come from the stale cache.
    server.clock.advance(3600);
    const newKid = await mint();
    assert.equal(newKid, fresh.kid);

    const jwks = (await get(`${server.issuer()}.well-known/jwks.json`)).body as { keys: Array<{ kid: string }> };
    const kids = jwks.keys.map((k) => k.kid);
    assert.ok(kids.includes(newKid), 'the new key is published');
    assert.ok(
      !kids.includes(oldKid),
      `the old ES256 key left the JWKS after its last token could expire (600 s + skew + ${KEY_CACHE_SECONDS} s)`,
    );
  });
});
