/**
 * Shared by the password-policy and security-event suites: a tenant whose
 * connections carry different password policies, seed users whose
 * passwords are on the breached list (declared as hashes, so start-up
 * accepts them), and a harness running the real server and the real
 * `latchkey` CLI on one SQLite file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { hashPassword } from '../../src/identity/passwords.js';
import { hasStackTrace, parseJsonLine, runCli, writeYamlConfig, type ProcessResult } from './cli-process.js';
import { acmeFixture, API, WEB } from './fixtures.js';
import { postForm, type JsonResponse } from './http.js';
import { startTestServer, TEST_MASTER_KEY, type TenantInput, type TestServer } from './server.js';

/** Connections of the policy tenant (the default one keeps the default policy: min 8, refuse new, flag at login). */
export const DEFAULT_CONNECTION = 'Username-Password-Authentication';
export const STRICT_LENGTH = { name: 'partners', min_length: 16 };
export const REFUSE_CONNECTION = 'refuse-breached';
export const ALLOW_CONNECTION = 'allow-breached';

/** On the bundled list (checked with @zxcvbn-ts/language-common). */
export const BREACHED_PASSWORDS = ['password1', 'iloveyou', 'qwertyuiop', 'trustno1'] as const;

/** Users whose (breached) passwords were imported as hashes, one per connection. */
export const FLAGGED = { username: 'flagged@acme.test', password: 'trustno1' };
export const REFUSED = { username: 'refused@acme.test', password: 'qwertyuiop' };
export const ALLOWED = { username: 'allowed@acme.test', password: 'iloveyou' };

/** A confidential backend that forwards the end user's IP (auth0-forwarded-for). */
export const BACKEND = { client_id: 'acme-backend', client_secret: 'acme-backend-secret-0123456789' };

export async function policyTenant(): Promise<TenantInput> {
  const { tenant } = await acmeFixture();
  return {
    ...tenant,
    connections: [
      ...(tenant.connections ?? []),
      { name: STRICT_LENGTH.name, type: 'database', password_policy: { min_length: STRICT_LENGTH.min_length } },
      { name: REFUSE_CONNECTION, type: 'database', password_policy: { on_breached_login: 'refuse' } },
      { name: ALLOW_CONNECTION, type: 'database', password_policy: { on_breached_login: 'allow' } },
    ],
    applications: [
      ...(tenant.applications ?? []),
      { ...BACKEND, token_endpoint_auth_method: 'client_secret_post', grant_types: ['password'], trust_forwarded_for: true },
    ],
    users: [
      ...(tenant.users ?? []),
      { connection: DEFAULT_CONNECTION, username: FLAGGED.username, password_hash: await hashPassword(FLAGGED.password) },
      { connection: REFUSE_CONNECTION, username: REFUSED.username, password_hash: await hashPassword(REFUSED.password) },
      { connection: ALLOW_CONNECTION, username: ALLOWED.username, password_hash: await hashPassword(ALLOWED.password) },
    ],
  };
}

/** One security event as `latchkey logs --json` prints it. */
export interface LoggedEvent {
  at: string;
  type: string;
  reason?: string;
  tenant: string;
  client_id?: string;
  connection?: string;
  user_id?: string;
  identifier?: string;
  ip?: string;
  details?: Record<string, unknown>;
}

/** The real server and the real CLI on the same data directory and configuration. */
export class PolicyHarness {
  readonly dir: string;
  readonly configFile: string;
  private constructor(
    readonly tenant: TenantInput,
    readonly server: TestServer,
    dir: string,
    configFile: string,
  ) {
    this.dir = dir;
    this.configFile = configFile;
  }

  static async start(tenant: TenantInput, prefix = 'latchkey-policy-'): Promise<PolicyHarness> {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const configFile = writeYamlConfig(dir, {
      public_url: 'http://127.0.0.1:3999',
      database: `sqlite:${join(dir, 'latchkey.db')}`,
      log_level: 'warn',
      tenants: [tenant],
    });
    const server = await startTestServer({ dir, tenants: [tenant] });
    return new PolicyHarness(tenant, server, dir, configFile);
  }

  async close(): Promise<void> {
    await this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  cli(args: string[], input?: string): Promise<ProcessResult> {
    return runCli(args, { env: { LATCHKEY_MASTER_KEY: TEST_MASTER_KEY }, ...(input === undefined ? {} : { input }) });
  }

  /** An admin command against this configuration. */
  admin(args: string[], input?: string): Promise<ProcessResult> {
    return this.cli([...args, '--config', this.configFile], input);
  }

  /** `latchkey logs --json …`, which must succeed; the parsed lines, newest first. */
  async logs(args: string[] = []): Promise<LoggedEvent[]> {
    const result = await this.admin(['logs', '--json', ...args]);
    assertExit(result, 0, `latchkey logs ${args.join(' ')}`);
    return result.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((line) => {
        const parsed = parseJsonLine(line);
        assert.ok(parsed, `a JSON line: ${line}`);
        return parsed as unknown as LoggedEvent;
      });
  }

  login(
    username: string,
    password: string,
    extra: Record<string, string> = {},
    client: Record<string, string> = WEB,
    headers: Record<string, string> = {},
  ): Promise<JsonResponse> {
    return postForm(
      this.server.at('/oauth/token'),
      { grant_type: 'password', username, password, audience: API, ...client, ...extra },
      headers,
    );
  }

  /** Security-event log lines the server wrote, parsed. */
  serverEvents(): Array<Record<string, unknown>> {
    return this.server.logs.flatMap((line) => {
      const parsed = parseJsonLine(line);
      return parsed && typeof parsed.security_event === 'string' ? [parsed] : [];
    });
  }

  tenantId(): string {
    const tenant = this.server.server.runtime.catalog.tenant(this.tenant.name);
    assert.ok(tenant, 'the tenant is loaded');
    return tenant.id;
  }

  /** The stored user id of a login name in a connection, read from the database file. */
  userId(username: string, connection = DEFAULT_CONNECTION): string {
    const row = this.sql<{ id: string }>(
      'SELECT u.id AS id FROM users u JOIN connections c ON c.id = u.connection_id WHERE u.username = ? AND c.name = ?',
      username,
      connection,
    );
    assert.ok(row, `user ${username} exists in ${connection}`);
    return row.id;
  }

  userExists(username: string, connection = DEFAULT_CONNECTION): boolean {
    return (
      this.sql(
        'SELECT u.id AS id FROM users u JOIN connections c ON c.id = u.connection_id WHERE u.username = ? AND c.name = ?',
        username,
        connection,
      ) !== undefined
    );
  }

  private sql<T>(query: string, ...params: string[]): T | undefined {
    const db = new Database(join(this.dir, 'latchkey.db'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare(query).get(...params) as T | undefined;
    } finally {
      db.close();
    }
  }
}

/** The exit code, with everything the process printed in the message; never a stack trace. */
export function assertExit(result: ProcessResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  assert.ok(!hasStackTrace(result.stdout + result.stderr), `${what}: stack trace\n${result.stderr}`);
}
