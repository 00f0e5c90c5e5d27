/**
 * `latchkey users list|show|delete` (issue #15 point 6): an operator's view
 * of a tenant's users without SQL. `list` and `show` only read (no
 * migration, no write, no master key: admin-context.ts); `delete` ends what
 * the user could still use first (identity/user-deletion.ts).
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { Tenant } from '../../domain/tenant.js';
import { deleteUser } from '../../identity/user-deletion.js';
import { identifierKeyOf } from '../../protection/login-scopes.js';
import type { ConnectionRecord, UserRecord } from '../../storage/stores.js';
import type { AdminContext } from '../admin-context.js';
import { CliUsageError, pickConnection, pickTenant, withAdmin, type AdminOptions } from './context.js';
import { printRecord, printTable } from './output.js';
import { withTarget } from './users.js';

/** A page larger than this is refused: an operator wanting everything pages through, or asks the Management API. */
const MAX_PAGE = 1000;
const ALL_CONNECTIONS = 'connection (default: every connection of the tenant)';

interface ListOptions extends AdminOptions {
  limit: string;
  page: string;
  json?: boolean;
}

export function registerUserRecords(program: Command): void {
  const users = program.commands.find((c) => c.name() === 'users');
  if (!users) throw new Error('register users before users list|show|delete');

  withTarget(users.command('list'), ALL_CONNECTIONS)
    .description("list a tenant's users (every connection, or --connection's), by connection and username")
    .option('-n, --limit <n>', `users per page, 1-${MAX_PAGE}`, '100')
    .option('--page <n>', 'page number, from 1', '1')
    .option('--json', 'one JSON object per line')
    .action(async (options: ListOptions) => {
      const limit = wholeNumber(options.limit, '--limit', 1, MAX_PAGE);
      const page = wholeNumber(options.page, '--page', 1, Number.MAX_SAFE_INTEGER);
      // Reads only: no migration, no write, no master key.
      await withAdmin(options, 'read', async (admin) => {
        const tenant = pickTenant(admin, options.tenant);
        const connection = options.connection === undefined ? undefined : pickConnection(tenant, options.connection);
        const offset = (page - 1) * limit;
        const [rows, total] = await Promise.all([
          admin.stores.users.list(tenant.id, { connectionId: connection?.id, offset, limit }),
          connection === undefined
            ? admin.stores.users.countInTenant(tenant.id)
            : admin.stores.users.countInConnection(tenant.id, connection.id),
        ]);
        const names = connectionNames(tenant);
        if (options.json) {
          for (const user of rows) process.stdout.write(`${JSON.stringify(userSummary(user, names))}\n`);
        } else {
          printTable(
            ['ID', 'USERNAME', 'EMAIL', 'CONNECTION', 'BLOCKED', 'CREATED'],
            rows.map((u) => [
              u.id,
              u.username,
              u.email ?? '-',
              names.get(u.connectionId) ?? u.connectionId,
              u.blocked ? 'yes' : 'no',
              u.createdAt.toISOString(),
            ]),
          );
        }
        // On stderr, so that --json output stays one user per line.
        const where = connection === undefined ? tenant.name : `${tenant.name}/${connection.name}`;
        const shown = rows.length === 0 ? 'no users' : `users ${offset + 1}-${offset + rows.length}`;
        const next = offset + rows.length < total ? `; next page: --page ${page + 1}` : '';
        process.stderr.write(`${shown} of ${total} in ${where}${next}\n`);
      });
    });

  withTarget(
    users.command('show').description('show a user: profile, block and brute-force locks, second factors, live refresh-token families'),
    ALL_CONNECTIONS,
  )
    .argument('<user>', 'user id, username or email')
    .option('--json', 'one JSON object')
    .action(async (ref: string, options: AdminOptions & { json?: boolean }) => {
      await withAdmin(options, 'read', async (admin) => {
        const { tenant, user } = await findUser(admin, options, ref);
        const now = admin.clock.now();
        const identifiers = [user.username, ...(user.email === null ? [] : [user.email])];
        const keys = [...new Set(identifiers.map((i) => identifierKeyOf(user.connectionId, i)))];
        const [authenticators, families, locks] = await Promise.all([
          admin.stores.mfa.listAuthenticators(tenant.id, user.id),
          admin.stores.refreshTokens.countLiveForUser(tenant.id, user.id, now),
          Promise.all(keys.map((key) => admin.stores.attackLocks.listForIdentifier(tenant.id, user.connectionId, key, now))),
        ]);
        const lockList = locks.flat().map((l) => ({ ip: l.ip ?? 'all IPs', until: l.expiresAt.toISOString() }));
        const shown = {
          ...userSummary(user, connectionNames(tenant)),
          email_verified: user.emailVerified,
          name: user.name,
          given_name: user.givenName,
          family_name: user.familyName,
          groups: user.groups,
          updated: user.updatedAt.toISOString(),
          password_changed: user.passwordChangedAt?.toISOString() ?? null,
          blocked_at: user.blockedAt?.toISOString() ?? null,
          brute_force_locks: lockList,
          mfa_factors: authenticators.length,
          refresh_token_families: families,
        };
        printRecord(shown, {
          json: options.json,
          special: {
            brute_force_locks: () => (lockList.length === 0 ? 'none' : lockList.map((l) => `${l.ip} until ${l.until}`).join('; ')),
          },
        });
      });
    });

  withTarget(
    users
      .command('delete')
      .description('delete a user: revokes their refresh tokens, removes their second factors, then the user (records user_deleted)'),
    ALL_CONNECTIONS,
  )
    .argument('<user>', 'user id, username or email')
    .option('-y, --yes', 'do not ask (required when standard input is not a terminal)')
    .action(async (ref: string, options: AdminOptions & { yes?: boolean }) => {
      await withAdmin(options, 'write', async (admin) => {
        const { tenant, connection, user } = await findUser(admin, options, ref);
        const where = `${tenant.name}/${connection?.name ?? user.connectionId}`;
        if (!options.yes && !(await confirmed(`delete user ${user.username} (id ${user.id}) from ${where}? [y/N] `))) {
          throw new CliUsageError(
            process.stdin.isTTY
              ? 'not deleted'
              : `not deleted: pass --yes to delete ${user.username} without a question (stdin is not a terminal)`,
          );
        }
        const deps = {
          users: admin.stores.users,
          refreshTokens: admin.stores.refreshTokens,
          mfa: admin.stores.mfa,
          securityEvents: admin.securityEvents,
          clock: admin.clock,
        };
        const outcome = await deleteUser(deps, tenant, connection?.name ?? user.connectionId, user, 'cli');
        process.stdout.write(
          `deleted ${user.username} (id ${user.id}) from ${where}: revoked ${outcome.refreshTokensRevoked} refresh token famil${outcome.refreshTokensRevoked === 1 ? 'y' : 'ies'}, removed ${outcome.authenticatorsRemoved} second factor${outcome.authenticatorsRemoved === 1 ? '' : 's'}\n`,
        );
      });
    });
}

/**
 * A user by id, else by username or email: in --connection, or else in every
 * connection of the tenant (a name found in two asks for --connection).
 */
async function findUser(
  admin: AdminContext,
  options: AdminOptions,
  ref: string,
): Promise<{ tenant: Tenant; connection: ConnectionRecord | undefined; user: UserRecord }> {
  const tenant = pickTenant(admin, options.tenant);
  const chosen = options.connection === undefined ? undefined : pickConnection(tenant, options.connection);
  const byId = await admin.stores.users.findById(tenant.id, ref);
  if (byId && (chosen === undefined || byId.connectionId === chosen.id)) {
    return { tenant, connection: [...tenant.connections.values()].find((c) => c.id === byId.connectionId), user: byId };
  }
  const candidates = chosen === undefined ? [...tenant.connections.values()] : [chosen];
  const found: Array<{ connection: ConnectionRecord; user: UserRecord }> = [];
  for (const connection of candidates) {
    const user = await admin.stores.users.findByLogin(tenant.id, connection.id, ref);
    if (user) found.push({ connection, user });
  }
  const [only] = found;
  if (only === undefined)
    throw new CliUsageError(`no user "${ref}" in ${tenant.name}${chosen ? `/${chosen.name}` : ''} (by id, username or email)`);
  if (found.length > 1)
    throw new CliUsageError(
      `"${ref}" names users in several connections (${found.map((f) => f.connection.name).join(', ')}); choose one with --connection, or give the user id`,
    );
  return { tenant, ...only };
}

function userSummary(user: UserRecord, names: Map<string, string>) {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    connection: names.get(user.connectionId) ?? user.connectionId,
    blocked: user.blocked,
    created: user.createdAt.toISOString(),
  };
}

/** Connection id → name; a connection the file no longer declares is not loaded, and shows by its id. */
function connectionNames(tenant: Tenant): Map<string, string> {
  return new Map([...tenant.connections.values()].map((c) => [c.id, c.name]));
}

function wholeNumber(text: string, option: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max)
    throw new CliUsageError(`${option} must be a whole number from ${min} to ${max}`);
  return value;
}

/** Left-aligned columns, two spaces apart, with a header row. */
/** Asks on the terminal; off a terminal (a script, a pipe) the answer is no, so a script must say --yes. */
async function confirmed(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
