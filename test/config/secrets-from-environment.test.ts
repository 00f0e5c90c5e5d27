/**
 * Configuration values from the environment or from files (issue #15 point
 * 6), so secrets need not sit in the YAML:
 *
 * - `${VAR}` in any string value is replaced by the variable; `$${` is a
 *   literal `${`; an unset variable stops the load naming the key path and
 *   the variable (never a value);
 * - `client_secret_file`, `secret_file`, `bind_password_file`,
 *   `database_file` and `redis_file` read the value from a file relative to
 *   the configuration file, without one trailing newline (Docker secrets);
 *   giving a key and its `_file` sibling, or a file that cannot be read, is a
 *   configuration error naming the key;
 * - end to end: `latchkey serve` with only `LATCHKEY_CONFIG` set (no
 *   --config) serves that file, and a client whose secret sits in a file and
 *   whose API identifier comes from `${VAR}` gets a client_credentials token.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` in plain strings is the configuration syntax under test, not a template.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfigFile } from '../../src/config/load.js';
import { RunningProcess, tsxCliArgs, waitForOk, writeYamlConfig } from '../helpers/cli-process.js';
import { postForm } from '../helpers/http.js';
import { freePort, TEST_MASTER_KEY } from '../helpers/server.js';

const SECRET = 'file-held-secret-0123456789';

function tenant(application: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    name: 'acme',
    connections: [{ name: 'db', type: 'database' }],
    apis: [{ identifier: 'https://api.secrets.test', scopes: ['read:x'] }],
    applications: [{ client_id: 'svc', grant_types: ['client_credentials'], ...application }],
    client_grants: [{ client_id: 'svc', audience: 'https://api.secrets.test', scope: ['read:x'] }],
    ...extra,
  };
}

describe('configuration values from the environment or files', () => {
  let dir: string;
  let n = 0;
  const write = (config: Record<string, unknown>): string =>
    writeYamlConfig(dir, { ...('database_file' in config ? {} : { database: 'sqlite:./x.db' }), ...config }, `c${n++}.yaml`);

  function problemsOf(file: string, env: Record<string, string> = {}): string[] {
    try {
      loadConfigFile(file, env);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.problems;
    }
    assert.fail('expected a configuration error');
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-config-secrets-'));
    writeFileSync(join(dir, 'secret.txt'), `${SECRET}\n`);
    writeFileSync(join(dir, 'crlf.txt'), `${SECRET}\r\n`);
    writeFileSync(join(dir, 'two-newlines.txt'), `${SECRET}\n\n`);
    writeFileSync(join(dir, 'database.txt'), 'postgres://app:s3cret@db.internal:5432/latchkey\n');
    writeFileSync(join(dir, 'redis.txt'), 'rediss://:s3cret@cache.internal:6380');
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('${VAR} is substituted in any string value, inside text too; $${ is a literal ${', () => {
    const file = write({
      tenants: [tenant({ client_secret: '${SVC_SECRET}', name: 'Service of ${TEAM} costs $${price}' })],
    });
    const config = loadConfigFile(file, { SVC_SECRET: SECRET, TEAM: 'ops' });
    const app = config.tenants[0]?.applications[0];
    assert.equal(app?.client_secret, SECRET);
    assert.equal(app?.name, 'Service of ops costs ${price}');
  });

  it('an unset variable is an error naming the key path and the variable, and no value', () => {
    const file = write({ tenants: [tenant({ client_secret: '${SVC_SECRET}' })], redis: 'redis://:${REDIS_PASSWORD}@cache:6379' });
    const problems = problemsOf(file, { SVC_SECRET: SECRET });
    assert.deepEqual(problems, ['redis: environment variable REDIS_PASSWORD is not set']);
    const both = problemsOf(file);
    assert.ok(both.includes('tenants[0].applications[0].client_secret: environment variable SVC_SECRET is not set'), both.join('\n'));
    assert.ok(!problemsOf(write({ tenants: [tenant({ client_secret: '${not a name}' })] }))[0]?.includes(SECRET));
    assert.match(problemsOf(write({ tenants: [tenant({ client_secret: '${not a name}' })] }))[0] ?? '', /not an environment variable name/);
  });

  it('*_file keys read the value relative to the configuration file, without one trailing newline', () => {
    for (const [name, expected] of [
      ['secret.txt', SECRET],
      ['crlf.txt', SECRET],
      ['two-newlines.txt', `${SECRET}\n`],
    ] as const) {
      const config = loadConfigFile(write({ tenants: [tenant({ client_secret_file: name })] }), {});
      assert.equal(config.tenants[0]?.applications[0]?.client_secret, expected, name);
      assert.ok(!('client_secret_file' in (config.tenants[0]?.applications[0] ?? {})), 'the _file key is consumed');
    }
    const config = loadConfigFile(
      write({
        database_file: 'database.txt',
        redis_file: '${SECRETS}/redis.txt',
        tenants: [
          tenant(
            { client_secret_file: 'secret.txt' },
            {
              connections: [
                { name: 'db', type: 'database' },
                { name: 'validator', type: 'http', url: 'https://validator.test/check', secret_file: 'secret.txt' },
                {
                  name: 'corp',
                  type: 'ldap',
                  url: 'ldaps://ldap.test:636',
                  bind_dn: 'cn=svc,dc=test',
                  bind_password_file: 'secret.txt',
                  user_dn_template: 'uid={{username}},dc=test',
                },
              ],
            },
          ),
        ],
      }),
      { SECRETS: dir },
    );
    assert.equal(config.database, 'postgres://app:s3cret@db.internal:5432/latchkey');
    assert.equal(config.redis, 'rediss://:s3cret@cache.internal:6380');
    const [, validator, corp] = config.tenants[0]?.connections ?? [];
    assert.equal(validator?.secret, SECRET);
    assert.equal(corp?.bind_password, SECRET);
  });

  it('a key and its _file sibling together, or an unreadable file, is an error naming the key', () => {
    assert.deepEqual(problemsOf(write({ tenants: [tenant({ client_secret: SECRET, client_secret_file: 'secret.txt' })] })), [
      'tenants[0].applications[0].client_secret_file: give client_secret or client_secret_file, not both',
    ]);
    const [missing, ...rest] = problemsOf(write({ tenants: [tenant({ client_secret_file: 'nowhere.txt' })] }));
    assert.equal(rest.length, 0);
    assert.match(missing ?? '', /^tenants\[0\]\.applications\[0\]\.client_secret_file: cannot read \S+nowhere\.txt \(ENOENT\)$/);
  });

  it('end to end: serve reads LATCHKEY_CONFIG; a secret from a file and an identifier from ${VAR} work at the token endpoint', async () => {
    const port = await freePort();
    const file = writeYamlConfig(
      dir,
      {
        listen: { host: '127.0.0.1', port },
        database: 'sqlite:./serve.db',
        log_level: 'warn',
        tenants: [
          {
            name: 'acme',
            connections: [{ name: 'db', type: 'database' }],
            apis: [{ identifier: '${API_ID}', scopes: ['read:x'] }],
            applications: [{ client_id: 'svc', client_secret_file: 'secret.txt', grant_types: ['client_credentials'] }],
            client_grants: [{ client_id: 'svc', audience: '${API_ID}', scope: ['read:x'] }],
          },
        ],
      },
      'serve.yaml',
    );
    const proc = RunningProcess.start(process.execPath, tsxCliArgs(['serve']), {
      cwd: dir,
      env: { LATCHKEY_CONFIG: file, LATCHKEY_MASTER_KEY: TEST_MASTER_KEY, API_ID: 'https://api.from-env.test' },
    });
    try {
      await waitForOk(`http://127.0.0.1:${port}/acme/.well-known/openid-configuration`, 30_000, proc);
      const token = await postForm(`http://127.0.0.1:${port}/acme/oauth/token`, {
        grant_type: 'client_credentials',
        client_id: 'svc',
        client_secret: SECRET,
        audience: 'https://api.from-env.test',
      });
      assert.equal(token.status, 200, token.text);
      assert.equal(typeof token.body.access_token, 'string');
      assert.ok(!proc.stdoutLines.some((l) => l.includes('demo tenant')), 'a named configuration is no demo');
      assert.ok(!proc.stdoutLines.join('\n').includes(SECRET), 'the secret is in no log line');
    } finally {
      await proc.stop();
    }
  });
});
