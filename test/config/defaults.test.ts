/**
 * Defaults are stated once, on the schema's fields (issue #12 point 6); an
 * object's default is derived from its fields'. These pin what a file that
 * leaves keys out parses to, so moving a default between the field and its
 * object can never change behaviour: the values here are the ones the
 * server had before the defaults were restated.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { demoConfig } from '../../src/config/demo.js';
import { configSchema, DEFAULT_LDAP_ATTRIBUTES, DEFAULT_PASSWORD_POLICY, tenantProtectionDefaults } from '../../src/config/schema.js';
import { REPO_ROOT } from '../helpers/cli-process.js';

const PASSWORD_POLICY = { min_length: 8, refuse_breached: true, on_breached_login: 'flag' };
const ATTACK_PROTECTION = {
  brute_force: { enabled: true, threshold: 10, block_seconds: 2_592_000, same_password_window_seconds: 3600 },
  backstop: { enabled: true, threshold: 100, block_seconds: 900, max_block_seconds: 86_400 },
  suspicious_ip: { enabled: true, per_day: 100, failed_checks_per_hour: 300 },
  allowlist: [],
  forwarded_for_header: 'auth0-forwarded-for',
};
const REFRESH_TOKEN = { reuse_interval: 0, idle_lifetime: 1_296_000, absolute_lifetime: 2_592_000 };

function parsed(raw: unknown) {
  const result = configSchema.safeParse(raw);
  assert.ok(result.success, `does not parse: ${JSON.stringify(result.error?.issues)}`);
  return result.data;
}

describe('configuration defaults', () => {
  it('a minimal file parses to exactly the documented defaults, keys with no default left out', () => {
    assert.deepStrictEqual(parsed({ tenants: [{ name: 'acme' }] }), {
      listen: { host: '127.0.0.1', port: 3000, max_connections: 10_000 },
      database: 'sqlite:./data/latchkey.db',
      database_pool_size: 10,
      log_level: 'info',
      password_hashing: { max_queue: 256 },
      email: { from: 'Latchkey <no-reply@localhost>' },
      security_events: { retention_days: 30 },
      tenants: [
        {
          name: 'acme',
          id_token_signing_alg: 'RS256',
          id_token_lifetime: 36_000,
          connections: [{ name: 'Username-Password-Authentication', type: 'database', password_policy: PASSWORD_POLICY, timeout_ms: 2000 }],
          hooks: { post_login: [], timeout_ms: 2000 },
          apis: [],
          applications: [],
          client_grants: [],
          users: [],
          attack_protection: ATTACK_PROTECTION,
          rate_limits: {},
          trusted_proxies: [],
          mfa: 'optional',
          browser_session: { idle_lifetime: 259_200, absolute_lifetime: 604_800 },
          device_flow: { expires_in: 900, interval: 5 },
          administrators: [],
          management_api: { rate_limit: { requests: 50, per_seconds: 1 } },
        },
      ],
    });
  });

  it('the demo tenant gets the defaults at depth', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-defaults-'));
    try {
      const config = parsed(demoConfig(dir, 3000).config);
      const tenant = config.tenants[0];
      assert.ok(tenant);
      assert.deepStrictEqual(tenant.connections[0]?.password_policy, PASSWORD_POLICY);
      assert.equal(tenant.connections[0]?.timeout_ms, 2000);
      assert.deepStrictEqual(tenant.attack_protection, ATTACK_PROTECTION);
      assert.deepStrictEqual(tenant.applications[0]?.refresh_token, REFRESH_TOKEN);
      assert.equal(tenant.applications[0]?.resource_server, false);
      assert.equal(tenant.applications[0]?.trust_forwarded_for, false);
      assert.ok(!('mfa' in (tenant.applications[0] ?? {})), "an application's mfa stays absent: it inherits the tenant's");
      assert.deepStrictEqual(config.password_hashing, { max_queue: 256 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the cluster example parses, defaults filled in beside what it sets', () => {
    const config = parsed(parse(readFileSync(join(REPO_ROOT, 'examples/cluster/latchkey.yaml'), 'utf8')));
    assert.deepStrictEqual(config.operations, { listen: { host: '127.0.0.1', port: 9471 } });
    assert.deepStrictEqual(config.listen, { host: '127.0.0.1', port: 3001, max_connections: 10_000 });
    assert.deepStrictEqual(config.tenants[0]?.apis[0], {
      identifier: 'https://api.acme.test',
      scopes: ['read:sample'],
      token_lifetime: 86_400,
      allow_offline_access: true,
      signing_alg: 'RS256',
    });
  });

  it('a partly given block keeps the defaults of the keys it leaves out', () => {
    const config = parsed({
      operations: { listen: {} },
      tenants: [
        {
          name: 'acme',
          connections: [
            { name: 'db', type: 'database', password_policy: { min_length: 12 } },
            {
              name: 'corp',
              type: 'ldap',
              url: 'ldaps://ldap.corp.test',
              user_dn_template: 'uid={{username}},dc=corp',
              attributes: { email: 'userPrincipalName' },
            },
          ],
          attack_protection: { brute_force: { threshold: 5 }, forwarded_for_header: 'X-Real-IP' },
          applications: [{ client_id: 'web', client_secret: 'web-secret', refresh_token: { reuse_interval: 3 } }],
        },
      ],
    });
    const tenant = config.tenants[0];
    assert.ok(tenant);
    assert.deepStrictEqual(config.operations, { listen: { host: '127.0.0.1', port: 9464 } });
    assert.deepStrictEqual(tenant.connections[0]?.password_policy, { ...PASSWORD_POLICY, min_length: 12 });
    assert.deepStrictEqual(tenant.connections[1]?.attributes, { ...DEFAULT_LDAP_ATTRIBUTES, email: 'userPrincipalName' });
    assert.ok(
      !('pool_size' in (tenant.connections[1] ?? {})) && !('start_tls' in (tenant.connections[1] ?? {})),
      'pool_size and start_tls are applied by the LDAP source, not the schema',
    );
    assert.deepStrictEqual(tenant.attack_protection, {
      ...ATTACK_PROTECTION,
      brute_force: { ...ATTACK_PROTECTION.brute_force, threshold: 5 },
      forwarded_for_header: 'x-real-ip',
    });
    assert.deepStrictEqual(tenant.applications[0]?.refresh_token, { ...REFRESH_TOKEN, reuse_interval: 3 });
  });

  it('the exported defaults are the schema parsing nothing', () => {
    assert.deepStrictEqual(DEFAULT_PASSWORD_POLICY, PASSWORD_POLICY);
    assert.deepStrictEqual(DEFAULT_LDAP_ATTRIBUTES, {
      username: 'uid',
      email: 'mail',
      name: 'cn',
      given_name: 'givenName',
      family_name: 'sn',
      groups: 'memberOf',
    });
    assert.deepStrictEqual(tenantProtectionDefaults({}), { attack_protection: ATTACK_PROTECTION, rate_limits: {}, trusted_proxies: [] });
  });

  it('each parse gets objects of its own: a default is never shared between tenants', () => {
    const config = parsed({ tenants: [{ name: 'a' }, { name: 'b' }] });
    const [a, b] = config.tenants;
    assert.ok(a && b);
    assert.notEqual(a.attack_protection, b.attack_protection);
    assert.notEqual(a.connections[0]?.password_policy, b.connections[0]?.password_policy);
    assert.notEqual(a.connections[0]?.password_policy, DEFAULT_PASSWORD_POLICY);
  });

  it('the start-up message for a backstop block above its cap names the defaults to go back to', () => {
    const result = configSchema.safeParse({ tenants: [{ name: 'a', attack_protection: { backstop: { block_seconds: 100_000 } } }] });
    assert.equal(result.success, false);
    const issue = result.error?.issues.find((i) => i.path.join('.') === 'tenants.0.attack_protection.backstop.block_seconds');
    assert.match(issue?.message ?? '', /lower block_seconds \(default 900\) or raise max_block_seconds \(default 86400\)/);
  });
});
