/**
 * The default-directory rule (domain/tenant.ts), shared by the password
 * grant (a request without a realm) and the CLI (a command without
 * --connection): the tenant's default_directory, else its only connection.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultDirectoryOf } from '../../src/domain/tenant.js';
import type { ConnectionRecord } from '../../src/storage/stores.js';

const connections = (...names: string[]) => new Map(names.map((name) => [name, { name } as ConnectionRecord]));
const settings = (defaultDirectory?: string) => ({
  id_token_signing_alg: 'RS256' as const,
  id_token_lifetime: 60,
  default_directory: defaultDirectory,
});

describe('defaultDirectoryOf', () => {
  it('the configured default_directory, whatever else the tenant has', () => {
    assert.equal(defaultDirectoryOf({ settings: settings('ldap'), connections: connections('db', 'ldap') }), 'ldap');
  });
  it('without one: the only connection, or none when there are several', () => {
    assert.equal(defaultDirectoryOf({ settings: settings(), connections: connections('db') }), 'db');
    assert.equal(defaultDirectoryOf({ settings: settings(), connections: connections('db', 'ldap') }), undefined);
    assert.equal(defaultDirectoryOf({ settings: settings(), connections: connections() }), undefined);
  });
});
