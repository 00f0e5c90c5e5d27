/**
 * The MFA decision in one place (oauth/mfa-gate.ts, mfa/mfa-token.ts):
 * which policy applies, enrol or challenge, how a password sign-in's
 * attempt is settled, a hook's demand, and the mfa_token's round trip (the
 * decision sealed, then carried out as the same grant with `amr`).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ApiConfig, MfaPolicy } from '../../src/config/schema.js';
import { configSchema } from '../../src/config/schema.js';
import { Sealer } from '../../src/crypto/secrets.js';
import type { AuthenticatedClient } from '../../src/domain/client.js';
import type { Grant } from '../../src/domain/grant.js';
import { Catalog, type Tenant } from '../../src/domain/tenant.js';
import { grantFromClaims, MfaTokens } from '../../src/mfa/mfa-token.js';
import type { SecurityEventInput } from '../../src/observability/security-events.js';
import { MfaGate, mfaPolicyOf } from '../../src/oauth/mfa-gate.js';
import type { SingleUseKeyStore, UserRecord } from '../../src/storage/stores.js';
import { TestClock } from '../helpers/clock.js';

const API: ApiConfig = {
  identifier: 'https://api.example/',
  scopes: ['read'],
  token_lifetime: 60,
  allow_offline_access: true,
  signing_alg: 'RS256',
};

function tenantWith(policies: { tenant?: MfaPolicy; app?: MfaPolicy }): { tenant: Tenant; client: AuthenticatedClient } {
  const application = { client_id: 'app', client_secret: 'a-secret-of-the-app', ...(policies.app ? { mfa: policies.app } : {}) };
  const parsed = configSchema.parse({ tenants: [{ name: 'acme', applications: [application] }] });
  const { client_id, client_secret: _secret, ...settings } = parsed.tenants[0]!.applications[0]!;
  const catalog = new Catalog('https://id.example', {
    tenants: [{ id: 'ten-1', name: 'acme', settings: { id_token_signing_alg: 'RS256', id_token_lifetime: 3600, mfa: policies.tenant } }],
    connections: [],
    apis: [{ id: 'api-1', tenantId: 'ten-1', settings: API }],
    applications: [{ id: 'app-1', tenantId: 'ten-1', clientId: client_id, clientSecretHash: null, settings }],
    clientGrants: [],
  });
  const tenant = catalog.tenant('acme')!;
  return { tenant, client: { app: tenant.applications.get('app')!, method: 'client_secret_post' } };
}

const alice = { id: 'user-alice', blocked: false } as UserRecord;

function passwordGrant(): Grant {
  return {
    grantType: 'password',
    subject: { kind: 'user', user: alice },
    api: API,
    scopes: ['openid', 'offline_access', 'read'],
    requestedScopes: ['openid', 'offline_access'],
    authTime: new Date(1_700_000_000_000),
    refresh: { kind: 'new_family' },
  };
}

const clock = new TestClock();
const unusedKeys: SingleUseKeyStore = {
  consume: async () => true,
  isConsumed: async () => false,
} as unknown as SingleUseKeyStore;
const mfaTokens = new MfaTokens(new Sealer(randomBytes(32), 'mfa-token'), unusedKeys, clock);

function gate(hasFactor: boolean) {
  const events: SecurityEventInput[] = [];
  const settled: string[] = [];
  const securityEvents = { record: async (event: SecurityEventInput) => void events.push(event) };
  const mfaGate = new MfaGate({ mfa: { hasFactor: async () => hasFactor }, mfaTokens, securityEvents });
  const passwordLogin = {
    user: alice,
    secondFactorRequired: async (enrollment: boolean) => void settled.push(enrollment ? 'enroll' : 'challenge'),
    succeeded: async () => void settled.push('succeeded'),
  };
  return { mfaGate, passwordLogin, events, settled };
}

describe('mfaPolicyOf', () => {
  it("the application's policy wins over the tenant's; a tenant stored without one reads the schema's default (optional)", () => {
    assert.equal(mfaPolicyOf(tenantWith({ tenant: 'always', app: 'never' }).tenant, tenantWith({ app: 'never' }).client.app, API), 'never');
    const { tenant, client } = tenantWith({ tenant: 'always' });
    assert.equal(mfaPolicyOf(tenant, client.app, API), 'always');
    const stored = tenantWith({});
    assert.equal(mfaPolicyOf(stored.tenant, stored.client.app, API), 'optional');
  });

  it('a token for the MFA API always takes a second factor, even under never', () => {
    const { tenant, client } = tenantWith({ tenant: 'never', app: 'never' });
    assert.equal(mfaPolicyOf(tenant, client.app, tenant.apis.get(tenant.endpoints.mfaApi)), 'always');
  });
});

describe('MfaGate.check: a password sign-in', () => {
  const table: Array<[MfaPolicy, boolean, string]> = [
    ['never', true, 'succeeded'],
    ['never', false, 'succeeded'],
    ['optional', true, 'challenge'],
    ['optional', false, 'succeeded'],
    ['always', true, 'challenge'],
    ['always', false, 'enroll'],
  ];
  for (const [policy, hasFactor, expected] of table) {
    it(`policy ${policy}, ${hasFactor ? 'a factor' : 'no factor'}: ${expected}`, async () => {
      const { tenant, client } = tenantWith({ tenant: policy });
      const { mfaGate, passwordLogin, settled } = gate(hasFactor);
      const grant = passwordGrant();
      if (expected === 'succeeded') {
        assert.equal(await mfaGate.check({ grant, passwordLogin }, tenant, client), grant);
      } else {
        await assert.rejects(mfaGate.check({ grant, passwordLogin }, tenant, client), (err: { error?: string; errorReason?: string }) => {
          assert.equal(err.error, 'mfa_required');
          assert.equal(err.errorReason, expected === 'enroll' ? 'mfa_enrollment_required' : undefined);
          return true;
        });
      }
      assert.deepEqual(settled, [expected]);
    });
  }

  it('a grant that checked no password (refresh, MFA, client_credentials) passes unchanged, whatever the policy', async () => {
    const { tenant, client } = tenantWith({ tenant: 'always' });
    const grant = { ...passwordGrant(), grantType: 'refresh_token' };
    assert.equal(await gate(false).mfaGate.check({ grant }, tenant, client), grant);
  });
});

describe('MfaGate.demandedByHook', () => {
  const context = { tenantId: 'ten-1', clientId: 'app', userId: alice.id, ip: '192.0.2.1' };

  it('enrol when the user has no factor, challenge when they have one; an mfa_required event either way', async () => {
    const { tenant, client } = tenantWith({ tenant: 'never' });
    for (const [hasFactor, reason] of [
      [false, 'mfa_enrollment_required'],
      [true, 'hook'],
    ] as const) {
      const { mfaGate, events } = gate(hasFactor);
      await assert.rejects(mfaGate.demandedByHook(passwordGrant(), tenant, client, context), { error: 'mfa_required' });
      assert.deepEqual(
        events.map((e) => [e.type, e.reason]),
        [['mfa_required', reason]],
      );
    }
  });

  it('a refresh cannot prompt for a factor: invalid_grant, sign in again', async () => {
    const { tenant, client } = tenantWith({});
    const refresh = { ...passwordGrant(), grantType: 'refresh_token' };
    await assert.rejects(gate(true).mfaGate.demandedByHook(refresh, tenant, client, context), {
      error: 'invalid_grant',
      errorReason: 'mfa_required',
    });
  });
});

describe('the mfa_token: sealed from a grant, carried out as the same grant', () => {
  it('round trip: the same API, scopes, requested scopes, auth_time and refresh plan, with amr naming the factor', async () => {
    const { tenant } = tenantWith({});
    const grant = passwordGrant();
    const claims = mfaTokens.open(mfaTokens.seal(grant, tenant.id, 'app'), tenant.id, 'app');
    assert.equal(claims.userId, alice.id);
    assert.equal(claims.grantType, 'password');
    for (const [factor, method] of [
      ['otp', 'otp'],
      ['email', 'mail'],
      ['recovery-code', 'kba'],
    ] as const) {
      const done = grantFromClaims(claims, tenant.apis, { grantType: 'http://auth0.com/oauth/grant-type/mfa-otp', user: alice, factor });
      assert.deepEqual({ ...done, grantType: grant.grantType, amr: undefined }, { ...grant, amr: undefined });
      assert.deepEqual(done.amr, ['pwd', method, 'mfa']);
    }
  });

  it('a sign-in without an API or a refresh token stays so; an API removed since is invalid_grant', async () => {
    const { tenant } = tenantWith({});
    const userinfoOnly: Grant = { ...passwordGrant(), api: undefined, requestedScopes: undefined, refresh: { kind: 'none' } };
    const claims = mfaTokens.open(mfaTokens.seal(userinfoOnly, tenant.id, 'app'), tenant.id, 'app');
    const done = grantFromClaims(claims, tenant.apis, { grantType: 'mfa', user: alice, factor: 'otp' });
    assert.equal(done.api, undefined);
    assert.equal(done.requestedScopes, undefined);
    assert.deepEqual(done.refresh, { kind: 'none' });
    const withApi = mfaTokens.open(mfaTokens.seal(passwordGrant(), tenant.id, 'app'), tenant.id, 'app');
    assert.throws(() => grantFromClaims(withApi, new Map(), { grantType: 'mfa', user: alice, factor: 'otp' }), { error: 'invalid_grant' });
  });
});
