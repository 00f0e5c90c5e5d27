/**
 * Issue #15 point 1, DESIGN.md §8: Auth0's `POST /T/dbconnections/signup`
 * and `POST /T/dbconnections/change_password`, black-box against a started
 * server whose emails go to the development outbox (one JSON file per
 * message with `to`, `subject`, `text` and `html`).
 *
 * Proven: sign-up takes JSON (with `user_metadata`) and forms, answers
 * `{_id, email, email_verified: false}`, and is closed unless the
 * connection sets `disable_signup: false`; the password policy applies
 * (400 in Auth0's `PasswordStrengthError` shape); an unknown application or
 * a connection that is not a database one is refused. No enumeration: a
 * taken email answers exactly as a new one (same status, same keys, a
 * fresh-looking `_id`), nothing changes for its owner but an email telling
 * them; `change_password` answers byte-identical bodies for a known and an
 * unknown address and sends nothing to the unknown one. Rate limits: sign-ups
 * per IP and reset requests per email answer 429 with Retry-After past their
 * limit.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ACCOUNT_RATE_LIMITS } from '../../src/oauth/accounts/accounts.js';
import { postForm, postJson, type JsonResponse } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { accountsTenant, CLOSED, KNOWN, OPEN, SHOP, SHOP_API } from './fixture.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface OutboxMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** The outbox, read as a mailbox; `take()` returns what arrived since the last call. */
class Outbox {
  private readonly seen = new Set<string>();
  constructor(readonly dir: string) {}
  take(): OutboxMail[] {
    if (!existsSync(this.dir)) return [];
    const fresh = readdirSync(this.dir)
      .filter((f) => f.endsWith('.json') && !this.seen.has(f))
      .sort();
    for (const f of fresh) this.seen.add(f);
    return fresh.map((f) => JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as OutboxMail);
  }
}

function signIn(server: TestServer, username: string, password: string): Promise<JsonResponse> {
  return postForm(server.at('/oauth/token'), { grant_type: 'password', username, password, audience: SHOP_API, ...SHOP });
}

/** Until the emails sent off the requests' path have been handed to the outbox (the answers went out first: no enumeration by timing). */
function drained(server: TestServer): Promise<void> {
  return server.server.runtime.accounts.idle();
}

describe('dbconnections: sign-up and change_password (issue #15 point 1)', () => {
  let server: TestServer;
  let outbox: Outbox;
  let outboxDir: string;

  before(async () => {
    outboxDir = mkdtempSync(join(tmpdir(), 'latchkey-outbox-'));
    outbox = new Outbox(outboxDir);
    server = await startTestServer({ tenants: [accountsTenant()], extra: { email: { outbox_dir: outboxDir } } });
  });
  after(async () => {
    await server?.close();
    rmSync(outboxDir, { recursive: true, force: true });
  });

  it('a JSON sign-up answers {_id, email, email_verified: false}, signs in at once, and emails a verification link (text and HTML)', async () => {
    const res = await postJson(server.at('/dbconnections/signup'), {
      client_id: SHOP.client_id,
      email: 'Json.User@Shop.test',
      password: 'json user password 1',
      connection: OPEN,
      given_name: 'Json',
      family_name: 'User',
      user_metadata: { plan: 'free' },
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['_id', 'email', 'email_verified']);
    assert.match(String(res.body._id), UUID);
    assert.equal(res.body.email, 'json.user@shop.test');
    assert.equal(res.body.email_verified, false);
    assert.equal((await signIn(server, 'json.user@shop.test', 'json user password 1')).status, 200);
    await drained(server);
    const [mail, ...more] = outbox.take();
    assert.deepEqual(more, []);
    assert.ok(mail);
    assert.deepEqual(
      Object.keys(mail)
        .filter((k) => ['to', 'subject', 'text', 'html'].includes(k))
        .sort(),
      ['html', 'subject', 'text', 'to'],
    );
    assert.equal(mail.to, 'json.user@shop.test');
    assert.match(mail.text, new RegExp(`${server.issuer().replace(/[.?]/g, '\\$&')}verify-email\\?ticket=[A-Za-z0-9_-]{43}`));
    assert.match(mail.html, /<a href="http:\/\/127\.0\.0\.1:\d+\/acme\/verify-email\?ticket=/);
  });

  it('a form sign-up works as the JSON one', async () => {
    const res = await postForm(server.at('/dbconnections/signup'), {
      client_id: SHOP.client_id,
      email: 'form.user@shop.test',
      password: 'form user password 1',
      connection: OPEN,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.email_verified, false);
    await drained(server);
    assert.equal(outbox.take().length, 1);
  });

  it('a sign-up on a connection without disable_signup: false is refused and creates nobody', async () => {
    const res = await postJson(server.at('/dbconnections/signup'), {
      client_id: SHOP.client_id,
      email: 'closed@shop.test',
      password: 'closed user password 1',
      connection: CLOSED,
    });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.body.code, 'operation_not_allowed');
    assert.equal(res.body.statusCode, 403);
    assert.equal((await signIn(server, 'closed@shop.test', 'closed user password 1')).status, 400);
    await drained(server);
    assert.deepEqual(outbox.take(), []);
  });

  it('a weak password is refused in Auth0’s PasswordStrengthError shape with the policy’s reason', async () => {
    const res = await postJson(server.at('/dbconnections/signup'), {
      client_id: SHOP.client_id,
      email: 'weak@shop.test',
      password: 'short',
      connection: OPEN,
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.name, 'PasswordStrengthError');
    assert.equal(res.body.code, 'invalid_password');
    assert.match(String(res.body.description), /at least \d+ characters/);
  });

  it('an unknown application, an unknown connection and a missing email are refused', async () => {
    const base = { client_id: SHOP.client_id, email: 'x@shop.test', password: 'a fine password 123', connection: OPEN };
    for (const [what, body] of [
      ['unknown client', { ...base, client_id: 'nobody' }],
      ['unknown connection', { ...base, connection: 'nope' }],
      ['no email', { ...base, email: undefined }],
      ['not an email', { ...base, email: 'not-an-email' }],
    ] as const) {
      const res = await postJson(server.at('/dbconnections/signup'), body);
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assert.equal(typeof res.body.code, 'string', what);
    }
  });

  it('a taken email answers exactly as a new one would; the owner keeps the password and is told by email', async () => {
    const body = (email: string) => ({ client_id: SHOP.client_id, email, password: 'an attacker password 9', connection: OPEN });
    const fresh = await postJson(server.at('/dbconnections/signup'), body('fresh@shop.test'));
    await drained(server);
    outbox.take();
    const taken = await postJson(server.at('/dbconnections/signup'), body(KNOWN.email));
    assert.equal(taken.status, fresh.status, taken.text);
    assert.deepEqual(Object.keys(taken.body).sort(), Object.keys(fresh.body).sort());
    assert.match(String(taken.body._id), UUID);
    assert.equal(taken.body.email_verified, false);
    assert.equal(taken.headers.get('content-type'), fresh.headers.get('content-type'));
    assert.equal((await signIn(server, KNOWN.email, KNOWN.password)).status, 200, 'the owner’s password still works');
    assert.equal((await signIn(server, KNOWN.email, 'an attacker password 9')).status, 400, 'the caller’s does not');
    await drained(server);
    const mails = outbox.take();
    assert.equal(mails.length, 1, JSON.stringify(mails));
    assert.equal(mails[0]?.to, KNOWN.email);
    assert.match(mails[0]?.subject ?? '', /tried to sign up/);
    assert.doesNotMatch(mails[0]?.text ?? '', /ticket=/, 'no link in the notice');
  });

  it('a taken username with a free email answers as a new sign-up, creates nobody, and tells that address', async () => {
    const res = await postJson(server.at('/dbconnections/signup'), {
      client_id: SHOP.client_id,
      email: 'someone.else@shop.test',
      username: KNOWN.email,
      password: 'another good password 4',
      connection: OPEN,
    });
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.body._id), UUID);
    assert.equal((await signIn(server, 'someone.else@shop.test', 'another good password 4')).status, 400, 'no account');
    await drained(server);
    const mails = outbox.take();
    assert.deepEqual(
      mails.map((m) => [m.to, /did not go through/.test(m.subject)]),
      [['someone.else@shop.test', true]],
    );
  });

  it('change_password answers byte-identical bodies for a known and an unknown address; only the known one gets a link', async () => {
    const known = await postJson(server.at('/dbconnections/change_password'), {
      client_id: SHOP.client_id,
      email: KNOWN.email,
      connection: OPEN,
    });
    const unknown = await postJson(server.at('/dbconnections/change_password'), {
      client_id: SHOP.client_id,
      email: 'nobody@shop.test',
      connection: OPEN,
    });
    assert.equal(known.status, 200, known.text);
    assert.equal(unknown.status, known.status);
    assert.equal(unknown.text, known.text, 'byte-identical bodies');
    assert.equal(known.text, JSON.stringify("We've just sent you an email to reset your password."));
    assert.equal(unknown.headers.get('content-type'), known.headers.get('content-type'));
    await drained(server);
    const mails = outbox.take();
    assert.deepEqual(
      mails.map((m) => m.to),
      [KNOWN.email],
      'one email, to the known address only',
    );
    assert.match(mails[0]?.text ?? '', /\/acme\/reset-password\?ticket=[A-Za-z0-9_-]{43}/);
    assert.match(mails[0]?.text ?? '', /60 minutes/);
  });
});

describe('dbconnections rate limits (issue #15 point 1)', () => {
  let server: TestServer;
  let outboxDir: string;
  before(async () => {
    outboxDir = mkdtempSync(join(tmpdir(), 'latchkey-outbox-'));
    server = await startTestServer({ tenants: [accountsTenant()], extra: { email: { outbox_dir: outboxDir } } });
  });
  after(async () => {
    await server?.close();
    rmSync(outboxDir, { recursive: true, force: true });
  });

  it('reset requests for one address past the limit answer 429 with Retry-After, known or not alike', async () => {
    for (const email of [KNOWN.email, 'unknown@shop.test']) {
      for (let i = 0; i < ACCOUNT_RATE_LIMITS.resetPerEmail; i++) {
        const res = await postJson(server.at('/dbconnections/change_password'), { client_id: SHOP.client_id, email, connection: OPEN });
        assert.equal(res.status, 200, `${email} #${i + 1}: ${res.text}`);
      }
      const refused = await postJson(server.at('/dbconnections/change_password'), { client_id: SHOP.client_id, email, connection: OPEN });
      assert.equal(refused.status, 429, `${email}: ${refused.text}`);
      assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
      assert.equal(refused.body.code, 'too_many_requests');
    }
  });

  it('sign-ups from one IP past the limit answer 429 with Retry-After', async () => {
    for (let i = 0; i < ACCOUNT_RATE_LIMITS.signupPerIp; i++) {
      // Weak passwords: counted, refused with 400, no hashing spent.
      const res = await postJson(server.at('/dbconnections/signup'), {
        client_id: SHOP.client_id,
        email: `u${i}@shop.test`,
        password: 'x',
        connection: OPEN,
      });
      assert.equal(res.status, 400, `#${i + 1}: ${res.text}`);
    }
    const refused = await postJson(server.at('/dbconnections/signup'), {
      client_id: SHOP.client_id,
      email: 'one.more@shop.test',
      password: 'a perfectly good password',
      connection: OPEN,
    });
    assert.equal(refused.status, 429, refused.text);
    assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
    assert.ok(server.logs.some((l) => l.includes('"security_event":"account_rate_limited"')));
  });
});
