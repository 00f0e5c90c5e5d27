/**
 * The configuration contract (DESIGN.md §2): validation errors name the key
 * path; defaults and relative paths resolve as documented.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfigFile, resolveConfig } from '../../src/config/load.js';
import { configProblems } from '../helpers/config-problems.js';

const minimal = { tenants: [{ name: 'acme' }] };

const problems = configProblems;

describe('configuration schema', () => {
  it('a minimal file gets the documented defaults', () => {
    const config = resolveConfig(minimal, '/srv/latchkey', {});
    assert.equal(config.public_url, 'http://127.0.0.1:3000');
    assert.equal(config.database, 'sqlite:/srv/latchkey/data/latchkey.db', 'relative to the config file');
    assert.equal(config.dataDir, '/srv/latchkey/data');
    assert.equal(config.tenants[0]?.connections[0]?.name, 'Username-Password-Authentication');
    assert.equal(config.tenants[0]?.id_token_signing_alg, 'RS256');
  });

  it('environment variables win over the file', () => {
    const config = resolveConfig({ ...minimal, database: 'sqlite:./x.db' }, '/srv', {
      LATCHKEY_DATABASE_URL: 'sqlite:/var/lib/l.db',
      LATCHKEY_REDIS_URL: 'redis://r:6379',
      LATCHKEY_MASTER_KEY: 'abc',
    });
    assert.equal(config.database, 'sqlite:/var/lib/l.db');
    assert.equal(config.redis, 'redis://r:6379');
    assert.equal(config.masterKeyBase64, 'abc');
  });

  it('errors name the key path', () => {
    const bad = {
      tenants: [
        { name: 'acme', applications: [{ client_id: 'a', client_secret: 'long-enough-secret', grant_types: ['password', 'implicit'] }] },
      ],
    };
    assert.ok(
      problems(bad).some((p) => p.startsWith('tenants[0].applications[0].grant_types[1]:')),
      problems(bad).join('\n'),
    );
  });

  it('unknown keys are refused, so typos do not pass silently', () => {
    assert.ok(problems({ tenants: [{ name: 'acme', default_directroy: 'x' }] }).some((p) => p.startsWith('tenants[0]')));
  });

  it('cross references are checked', () => {
    const p = problems({
      tenants: [
        {
          name: 'acme',
          default_directory: 'missing',
          default_audience: 'https://nope',
          users: [{ connection: 'nope', username: 'u', password: 'password1' }],
          applications: [{ client_id: 'a', token_endpoint_auth_method: 'private_key_jwt' }],
        },
      ],
    });
    for (const path of [
      'tenants[0].default_directory',
      'tenants[0].default_audience',
      'tenants[0].users[0].connection',
      'tenants[0].applications[0].jwks',
    ]) {
      assert.ok(
        p.some((x) => x.startsWith(`${path}:`)),
        `${path} in\n${p.join('\n')}`,
      );
    }
  });

  it('a secret is required exactly for the secret methods', () => {
    assert.ok(
      problems({ tenants: [{ name: 'acme', applications: [{ client_id: 'a' }] }] }).some((p) =>
        p.startsWith('tenants[0].applications[0].client_secret'),
      ),
    );
    assert.ok(
      problems({
        tenants: [{ name: 'acme', applications: [{ client_id: 'a', client_secret: 'secret-secret', token_endpoint_auth_method: 'none' }] }],
      }).some((p) => p.startsWith('tenants[0].applications[0].client_secret')),
    );
  });

  it('listen.port 0 needs a public_url, since issuers must name the real port', () => {
    assert.ok(problems({ listen: { port: 0 }, ...minimal }).some((p) => p.startsWith('public_url:')));
    assert.equal(
      resolveConfig({ listen: { port: 0 }, public_url: 'https://id.example', ...minimal }, '/srv', {}).public_url,
      'https://id.example',
    );
  });

  it('regression (issue #15 point 7): a listen.host other than loopback needs a public_url, refused with the reason', () => {
    const refusal = (host: string) => problems({ listen: { host, port: 8080 }, ...minimal }).find((p) => p.startsWith('public_url:'));
    // The wildcard hosts were silently given an issuer on 127.0.0.1, which no other machine can use.
    for (const host of ['0.0.0.0', '::', '[::]']) {
      const message = refusal(host);
      assert.ok(message, host);
      assert.match(message, /http:\/\/127\.0\.0\.1:8080\/\{tenant\}\//, message);
      assert.match(message, /clients on other machines cannot use/, message);
      assert.match(message, /set public_url to the address clients use/, message);
    }
    // A specific interface is refused too: the bind address is rarely what clients reach.
    assert.match(refusal('10.0.0.5') ?? '', /http:\/\/10\.0\.0\.5:8080\/\{tenant\}\/, the bind address/);
    // Loopback keeps the derived default; any host with public_url is accepted.
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1']) {
      const url = resolveConfig({ listen: { host, port: 8080 }, ...minimal }, '/srv', {}).public_url;
      assert.equal(url, `http://${host.includes(':') ? `[${host}]` : host}:8080`, host);
    }
    assert.equal(
      resolveConfig({ listen: { host: '0.0.0.0' }, public_url: 'https://login.example.com', ...minimal }, '/srv', {}).public_url,
      'https://login.example.com',
    );
  });

  it('operations: none by default; 127.0.0.1:9464 when given; never the public port; listen.max_connections defaults to 10,000', () => {
    const plain = resolveConfig(minimal, '/srv', {});
    assert.equal(plain.operations, undefined);
    assert.equal(plain.listen.max_connections, 10_000);
    assert.deepEqual(resolveConfig({ ...minimal, operations: { listen: {} } }, '/srv', {}).operations, {
      listen: { host: '127.0.0.1', port: 9464 },
    });
    assert.ok(
      problems({ ...minimal, operations: { listen: { port: 3000 } } }).some((p) =>
        p.startsWith('operations.listen.port: must differ from listen.port'),
      ),
    );
    assert.ok(
      problems({ ...minimal, listen: { host: '0.0.0.0', port: 8000 }, operations: { listen: { port: 8000 } } }).some((p) =>
        p.startsWith('operations.listen.port'),
      ),
    );
    // Another address may reuse the number; port 0 (tests) never collides.
    assert.equal(
      resolveConfig({ ...minimal, listen: { port: 8000 }, operations: { listen: { host: '10.0.0.5', port: 8000 } } }, '/srv', {}).operations
        ?.listen.port,
      8000,
    );
    assert.ok(problems({ ...minimal, listen: { max_connections: 0 } }).some((p) => p.startsWith('listen.max_connections')));
    assert.ok(problems({ ...minimal, operations: {} }).some((p) => p.startsWith('operations.listen')));
  });

  it('LATCHKEY_OPERATIONS_PORT gives each node sharing a file its own operations port', () => {
    const withBlock = { ...minimal, operations: { listen: { host: '127.0.0.1' } } };
    assert.equal(resolveConfig(withBlock, '/srv', { LATCHKEY_OPERATIONS_PORT: '9470' }).operations?.listen.port, 9470);
    const refused = (raw: unknown, value: string) =>
      assert.throws(
        () => resolveConfig(raw, '/srv', { LATCHKEY_OPERATIONS_PORT: value }),
        (err: unknown) => err instanceof ConfigError && err.source === 'LATCHKEY_OPERATIONS_PORT',
      );
    refused(minimal, '9470');
    refused(withBlock, 'abc');
    refused(withBlock, '70000');
    refused(withBlock, '3000');
  });

  it('public_url must not end with a slash; duplicate tenants are refused', () => {
    assert.ok(problems({ public_url: 'https://id.example/', ...minimal }).some((p) => p.startsWith('public_url')));
    assert.ok(problems({ tenants: [{ name: 'a' }, { name: 'a' }] }).some((p) => p.startsWith('tenants[1].name')));
  });

  it('client_grants (DESIGN.md §9): each names an application and an API of the tenant, only scopes of that API, once per pair; errors name the key path', () => {
    const tenant = {
      name: 'acme',
      apis: [{ identifier: 'https://api.acme.test', scopes: ['read', 'write'] }],
      applications: [{ client_id: 'svc', client_secret: 'svc-secret-000', grant_types: ['client_credentials'] }],
    };
    const valid = resolveConfig(
      { tenants: [{ ...tenant, client_grants: [{ client_id: 'svc', audience: 'https://api.acme.test', scope: ['read'] }] }] },
      '/srv',
      {},
    );
    assert.deepEqual(valid.tenants[0]?.client_grants, [{ client_id: 'svc', audience: 'https://api.acme.test', scope: ['read'] }]);
    assert.deepEqual(resolveConfig({ tenants: [tenant] }, '/srv', {}).tenants[0]?.client_grants, [], 'default: none');

    const p = problems({
      tenants: [
        {
          ...tenant,
          client_grants: [
            { client_id: 'nobody', audience: 'https://api.acme.test', scope: [] },
            { client_id: 'svc', audience: 'https://elsewhere.test', scope: ['read'] },
            { client_id: 'svc', audience: 'https://api.acme.test', scope: ['read', 'admin'] },
            { client_id: 'svc', audience: 'https://api.acme.test', scope: ['write'] },
          ],
        },
      ],
    });
    const expected: Array<[string, RegExp]> = [
      ['tenants[0].client_grants[0].client_id', /names no application/],
      ['tenants[0].client_grants[1].audience', /names no API/],
      ['tenants[0].client_grants[2].scope[1]', /not a scope of the API https:\/\/api\.acme\.test \(it has: read, write\)/],
      ['tenants[0].client_grants[3]', /duplicate client grant for svc and https:\/\/api\.acme\.test/],
    ];
    for (const [path, message] of expected)
      assert.ok(
        p.some((x) => x.startsWith(`${path}: `) && message.test(x)),
        `${path} ${message} in\n${p.join('\n')}`,
      );
    const noScope = problems({ tenants: [{ ...tenant, client_grants: [{ client_id: 'svc', audience: 'https://api.acme.test' }] }] });
    assert.ok(
      noScope.some((x) => x.startsWith('tenants[0].client_grants[0].scope: ')),
      `scope is required (an empty list grants no scope):\n${noScope.join('\n')}`,
    );
  });

  it('YAML files: duplicate keys and syntax errors are reported, paths resolve against the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-config-'));
    const file = join(dir, 'latchkey.yaml');
    writeFileSync(file, 'database: sqlite:./db/l.db\ntenants:\n  - name: acme\n');
    assert.equal(loadConfigFile(file, {}).database, `sqlite:${join(dir, 'db/l.db')}`);
    writeFileSync(file, 'tenants: []\ntenants: []\n');
    assert.throws(() => loadConfigFile(file, {}), ConfigError);
    assert.throws(() => loadConfigFile(join(dir, 'missing.yaml'), {}), /cannot read the file/);
  });
});
