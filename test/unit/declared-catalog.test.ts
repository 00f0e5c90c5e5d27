/**
 * DESIGN.md §2: the file is authoritative for what it declares. What a
 * start disables, restores and leaves disabled, computed from the rows the
 * file declared at earlier starts; and the warnings a valid file still earns.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configWarnings } from '../../src/config/config-warnings.js';
import { describeObject, planCatalog, type DeclaringTenant } from '../../src/config/declared-catalog.js';
import type { DeclarableKind, DeclaredRow } from '../../src/storage/stores.js';

const tenant = (
  name: string,
  parts: Partial<{ connections: string[]; apis: string[]; applications: string[]; grants: Array<[string, string]> }> = {},
): DeclaringTenant =>
  ({
    name,
    connections: (parts.connections ?? []).map((c) => ({ name: c, type: 'database' })),
    apis: (parts.apis ?? []).map((identifier) => ({ identifier, scopes: [] })),
    applications: (parts.applications ?? []).map((client_id) => ({ client_id, grant_types: ['client_credentials'] })),
    client_grants: (parts.grants ?? []).map(([client_id, audience]) => ({ client_id, audience, scope: [] })),
  }) as unknown as DeclaringTenant;

const row = (kind: DeclarableKind, id: string, tenantId: string, key: string[], disabledAt: Date | null = null): DeclaredRow => ({
  kind,
  id,
  tenantId,
  key,
  disabledAt,
});
const EARLIER = new Date('2031-01-01T00:00:00.000Z');

describe('planCatalog', () => {
  const stored: DeclaredRow[] = [
    row('tenant', 't1', 't1', ['acme']),
    row('connection', 'c1', 't1', ['users']),
    row('connection', 'c2', 't1', ['partners']),
    row('api', 'a1', 't1', ['https://api']),
    row('api', 'a2', 't1', ['https://old'], EARLIER),
    row('application', 'p1', 't1', ['web']),
    row('application', 'p2', 't1', ['svc']),
    row('client_grant', 'g1', 't1', ['svc', 'https://api']),
    row('client_grant', 'g2', 't1', ['web', 'https://api'], EARLIER),
    row('tenant', 't2', 't2', ['globex']),
    row('application', 'p3', 't2', ['web']),
  ];

  it('disables what was declared and no longer is, restores what is declared again, leaves the rest', () => {
    const plan = planCatalog(
      [
        tenant('acme', {
          connections: ['users'],
          apis: ['https://api', 'https://old'],
          applications: ['web'],
          grants: [['web', 'https://api']],
        }),
      ],
      stored,
    );
    assert.deepEqual(
      plan.disable.map((c) => [c.tenant, c.kind, c.id]),
      [
        ['acme', 'connection', 'c2'],
        ['acme', 'application', 'p2'],
        ['acme', 'client_grant', 'g1'],
        ['globex', 'tenant', 't2'],
        ['globex', 'application', 'p3'],
      ],
    );
    assert.deepEqual(
      plan.restore.map((c) => c.id),
      ['a2', 'g2'],
    );
    assert.deepEqual(plan.stillDisabled, []);
  });

  it('a row still undeclared after an earlier start stays disabled, and is not disabled again', () => {
    const plan = planCatalog(
      [
        tenant('acme', {
          connections: ['users', 'partners'],
          apis: ['https://api'],
          applications: ['web', 'svc'],
          grants: [['svc', 'https://api']],
        }),
        tenant('globex', { applications: ['web'] }),
      ],
      stored,
    );
    assert.deepEqual(plan.disable, []);
    assert.deepEqual(plan.restore, []);
    assert.deepEqual(
      plan.stillDisabled.map((c) => c.id),
      ['a2', 'g2'],
    );
  });

  it('names are per tenant and per kind: the same client_id in another tenant, or an API named like an application, is another object', () => {
    const plan = planCatalog(
      [
        tenant('acme', {
          connections: ['users', 'partners'],
          apis: ['https://api', 'https://old', 'svc'],
          applications: ['web'],
          grants: [
            ['svc', 'https://api'],
            ['web', 'https://api'],
          ],
        }),
        tenant('globex', { applications: ['svc'] }),
      ],
      stored,
    );
    assert.deepEqual(
      plan.disable.map((c) => c.id),
      ['p2', 'p3'],
    );
  });

  it('describes each kind as an operator reads it', () => {
    assert.equal(describeObject({ kind: 'client_grant', key: ['svc', 'https://api'] }), 'client grant "svc" → "https://api"');
    assert.equal(describeObject({ kind: 'connection', key: ['partners'] }), 'connection "partners"');
  });
});

describe('configWarnings', () => {
  it('an application with client_credentials and no client grant; a client grant for an application without client_credentials', () => {
    const t = tenant('acme', {
      apis: ['https://api'],
      applications: ['svc', 'lonely'],
      grants: [
        ['svc', 'https://api'],
        ['web', 'https://api'],
      ],
    });
    (t.applications as Array<{ client_id: string; grant_types: string[] }>).push({ client_id: 'web', grant_types: ['password'] });
    const warnings = configWarnings([t]);
    assert.deepEqual(
      warnings.map((w) => [w.path, w.clientId]),
      [
        ['tenants[0].applications[1]', 'lonely'],
        ['tenants[0].client_grants[1]', 'web'],
      ],
    );
    assert.match(warnings[0]?.message ?? '', /403 access_denied/);
    assert.match(warnings[1]?.message ?? '', /has no effect/);
  });
});
