/**
 * STYLE.md §6 and identity/credential-source.ts: the password grant fails
 * closed at the credential boundary. Only `verified` with a user signs a
 * user in; a source answering anything outside the contract (an unknown
 * outcome, no outcome, a `verified` without a user, a refusal for a reason
 * nobody defined) gets the same invalid_grant as a wrong password, counted
 * as a failed attempt and logged as the source's fault, and never tokens.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { configSchema } from '../../src/config/schema.js';
import type { AuthenticatedClient } from '../../src/domain/client.js';
import { Catalog, type Tenant } from '../../src/domain/tenant.js';
import type { CredentialResult, CredentialSource } from '../../src/identity/credential-source.js';
import type { GrantDecision } from '../../src/oauth/grants/grant-handler.js';
import { createPasswordGrant, WRONG_CREDENTIALS } from '../../src/oauth/grants/password.js';
import { RequestParameters } from '../../src/oauth/request-parameters.js';
import type { LoginAttempt } from '../../src/protection/login-attempt.js';
import type { ConnectionRecord, UserRecord } from '../../src/storage/stores.js';
import { TestClock } from '../helpers/clock.js';

const parsed = configSchema.parse({
  tenants: [{ name: 'acme', applications: [{ client_id: 'app', client_secret: 'a-secret-of-the-app', grant_types: ['password'] }] }],
});
const tenantConfig = parsed.tenants[0]!;
const { client_id, client_secret: _secret, ...appSettings } = tenantConfig.applications[0]!;
const connection: ConnectionRecord = {
  id: 'con-1',
  tenantId: 'ten-1',
  name: tenantConfig.connections[0]!.name,
  type: 'database',
  passwordPolicy: tenantConfig.connections[0]!.password_policy,
};
const catalog = new Catalog('https://id.example', {
  tenants: [{ id: 'ten-1', name: 'acme', settings: { id_token_signing_alg: 'RS256', id_token_lifetime: 3600 } }],
  connections: [connection],
  apis: [],
  applications: [{ id: 'app-1', tenantId: 'ten-1', clientId: client_id, clientSecretHash: null, settings: appSettings }],
  clientGrants: [],
});
const tenant: Tenant = catalog.tenant('acme')!;
const client: AuthenticatedClient = { app: tenant.applications.get('app')!, method: 'client_secret_post' };

const alice: UserRecord = {
  id: 'user-alice',
  tenantId: 'ten-1',
  connectionId: 'con-1',
  username: 'alice',
  email: null,
  emailVerified: false,
  name: null,
  givenName: null,
  familyName: null,
  groups: null,
  passwordHash: null,
  blocked: false,
  passwordChangedAt: null,
  blockedAt: null,
  createdAt: new Date(0),
  updatedAt: new Date(0),
  lastLoginAt: null,
  loginsCount: 0,
  userMetadata: {},
  appMetadata: {},
};

/** How the grant settled its login attempt, as the attack protection would count it. */
class RecordedAttempt {
  readonly settled: string[] = [];
  async failed(reason: string): Promise<void> {
    this.settled.push(`failed:${reason}`);
  }
  async refused(userId: string, reason: string): Promise<void> {
    this.settled.push(`refused:${userId}:${reason}`);
  }
  async refund(): Promise<void> {
    this.settled.push('refund');
  }
  async succeeded(userId: string): Promise<void> {
    this.settled.push(`succeeded:${userId}`);
  }
  async secondFactorRequired(userId: string): Promise<void> {
    this.settled.push(`second_factor:${userId}`);
  }
}

/** A password grant over `source`, with a recorded attempt and the error log collected. */
function passwordGrantOver(source: CredentialSource) {
  const attempt = new RecordedAttempt();
  const logs: string[] = [];
  const grant = createPasswordGrant({
    credentialSources: new Map([[source.type, source]]),
    // The grant only begins an attempt and settles it; the fake records how (LoginAttempt's fields are private).
    attackProtection: { beginLogin: async () => attempt as unknown as LoginAttempt },
    users: { recordLogin: async () => undefined },
    clock: new TestClock(),
    logger: pino({ level: 'error' }, { write: (line: string) => logs.push(line) }),
  });
  const request = grant.parse(RequestParameters.fromForm('grant_type=password&username=alice&password=correct%20horse'), 'password');
  const signIn = () => grant.handle(request, { tenant, client, endUserIp: () => '192.0.2.1', now: new Date() });
  return { signIn, attempt, logs };
}

interface SignInOutcome {
  decision?: GrantDecision;
  error?: unknown;
  attempt: RecordedAttempt;
  logs: string[];
}

/** What a source answering `answer` leads to: the decision or the error, how the attempt was settled, what was logged. */
async function signInWith(answer: unknown): Promise<SignInOutcome> {
  const { signIn, attempt, logs } = passwordGrantOver({ type: 'database', verify: async () => answer as CredentialResult });
  try {
    return { decision: await signIn(), attempt, logs };
  } catch (error) {
    return { error, attempt, logs };
  }
}

describe('password grant: the credential source is trusted only to say verified', () => {
  it('verified with a user signs in, the attempt left for the MFA gate to settle', async () => {
    const { decision, attempt, error } = await signInWith({ outcome: 'verified', user: alice });
    assert.equal(error, undefined);
    assert.equal(decision?.grant.subject.kind === 'user' && decision.grant.subject.user.id, alice.id);
    assert.equal(decision?.passwordLogin?.user.id, alice.id);
    assert.deepEqual(attempt.settled, []);
  });

  const malformed: Array<[string, unknown]> = [
    ['an unknown outcome with a user', { outcome: 'ok', user: alice }],
    ['an empty object', {}],
    ['nothing at all', undefined],
    ['verified without a user', { outcome: 'verified' }],
    ['verified with a user that is no record', { outcome: 'verified', user: 'alice' }],
    ['refused for a reason the contract does not name', { outcome: 'refused', reason: 'sunday', user: alice }],
  ];
  for (const [what, answer] of malformed) {
    it(`${what}: invalid_grant as for a wrong password, counted as a failure, logged; no grant`, async () => {
      const { decision, error, attempt, logs } = await signInWith(answer);
      assert.equal(decision, undefined, 'no grant, so no tokens');
      assert.equal((error as { error?: string }).error, 'invalid_grant');
      assert.equal((error as { description?: string }).description, WRONG_CREDENTIALS);
      assert.deepEqual(attempt.settled, ['failed:wrong_password']);
      assert.equal(logs.length, 1);
      assert.match(logs[0] ?? '', /answered outside its contract/);
      assert.doesNotMatch(logs[0] ?? '', /correct horse/, 'the password stays out of the log');
    });
  }

  it('a source that throws is a dependency failure: the attempt is refunded and the error passes on', async () => {
    const { signIn, attempt } = passwordGrantOver({
      type: 'database',
      verify: async () => {
        throw new Error('directory down');
      },
    });
    await assert.rejects(signIn(), /directory down/);
    assert.deepEqual(attempt.settled, ['refund']);
  });
});
