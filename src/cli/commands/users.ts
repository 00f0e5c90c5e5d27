import type { Command } from 'commander';
import { createUser } from '../../identity/user-admin.js';
import { readMfaOverview } from '../../mfa/mfa-service.js';
import type { Tenant } from '../../domain/tenant.js';
import type { ConnectionRecord, UserRecord } from '../../storage/stores.js';
import type { AdminContext } from '../admin-context.js';
import { registerUsersImport } from './users-import.js';
import {
  CONFIG_OPTION_HELP,
  CliUsageError,
  pickConnection,
  pickTenant,
  readStdin,
  requireDatabaseConnection,
  withAdmin,
  type AdminOptions,
} from './context.js';

interface PasswordOptions {
  password?: string;
  passwordStdin?: boolean;
}

async function passwordFrom(options: PasswordOptions): Promise<string> {
  if (options.passwordStdin) return readStdin();
  if (options.password !== undefined) return options.password;
  throw new CliUsageError('give the password with --password-stdin (recommended: it stays out of shell history) or --password');
}

export function withTarget(command: Command, connectionHelp = "connection (default: the tenant's default_directory)"): Command {
  return command
    .option('-c, --config <file>', CONFIG_OPTION_HELP)
    .option('-t, --tenant <name>', 'tenant (default: the only one)')
    .option('--connection <name>', connectionHelp);
}

/** The tenant, connection and user an operator named; an unknown user is one clear line, exit 1. */
async function existingUser(
  admin: AdminContext,
  options: AdminOptions,
  username: string,
): Promise<{ tenant: Tenant; connection: ConnectionRecord; user: UserRecord }> {
  const tenant = pickTenant(admin, options.tenant);
  const connection = pickConnection(tenant, options.connection);
  const user = await admin.stores.users.findByLogin(tenant.id, connection.id, username);
  if (!user) throw new CliUsageError(`no user "${username}" in ${tenant.name}/${connection.name}`);
  return { tenant, connection, user };
}

export function registerUsers(program: Command): void {
  const users = program.command('users').description('manage users of database connections');

  withTarget(users.command('add').description('create a user'))
    .requiredOption('-u, --username <username>', 'login name')
    .option('--email <email>', 'email address')
    .option('--name <name>', 'display name')
    .option('--password <password>', 'initial password (visible in shell history; prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (options: AdminOptions & PasswordOptions & { username: string; email?: string; name?: string }) => {
      const password = await passwordFrom(options);
      await withAdmin(options, 'write', async (admin) => {
        const tenant = pickTenant(admin, options.tenant);
        const connection = pickConnection(tenant, options.connection);
        try {
          const input = { username: options.username, email: options.email, name: options.name, password };
          const user = await createUser(admin.stores.users, targetOf(tenant, connection), input);
          process.stdout.write(`created user ${user.username} (id ${user.id}) in ${tenant.name}/${connection.name}\n`);
        } catch (err) {
          await admin.accounts().recordPolicyRefusal(tenant, connection, options.username, err, 'create');
          throw err;
        }
      });
    });

  registerUsersImport(users, withTarget);

  withTarget(
    users
      .command('block')
      .description('refuse every sign-in and refresh of a user, and revoke their refresh tokens (unblocking revives none)'),
  )
    .argument('<username>', 'username or email')
    .action(async (username: string, options: AdminOptions) => {
      await withAdmin(options, 'write', async (admin) => {
        const { tenant, connection, user } = await existingUser(admin, options, username);
        const revoked = await admin.accounts().block(tenant, connection, user, 'cli');
        process.stdout.write(`blocked ${user.username} in ${tenant.name}/${connection.name}: ${revokedRefreshTokens(revoked)}\n`);
      });
    });

  withTarget(
    users
      .command('unblock')
      .description("lift an operator's block and every brute-force lock (from each IP, and the all-IP backstop) of a login name")
      .addHelpText(
        'after',
        "\nA login name that belongs to no user can still be unblocked: unknown names are locked exactly like known ones.\nA user's MFA limits are lifted too: the bucket of wrong second-factor codes is full again and the email window starts over.",
      ),
  )
    .argument('<username>', 'username or email')
    .action(async (username: string, options: AdminOptions) => {
      await withAdmin(options, 'write', async (admin) => {
        const tenant = pickTenant(admin, options.tenant);
        const connection = pickConnection(tenant, options.connection);
        const user = await admin.stores.users.findByLogin(tenant.id, connection.id, username);
        const identifiers = [username, ...(user ? [user.username, ...(user.email === null ? [] : [user.email])] : [])];
        const wasBlocked = user?.blocked ?? false;
        if (user && wasBlocked) await admin.stores.users.setBlocked(user.id, false);
        const locks = await (await admin.attackProtection()).unblock(tenant, connection, identifiers, 'operator', user?.id);
        // The user's MFA limits too: a bucket drained by wrong codes would otherwise keep them out (issue #11 point 7).
        if (user) await (await admin.mfa()).resetLimits(tenant.id, user.id);
        if (!user && locks === 0)
          throw new CliUsageError(`no user "${username}" and no lock on that name in ${tenant.name}/${connection.name}`);
        const name = user?.username ?? username;
        const parts = [wasBlocked ? 'lifted the block' : undefined, `cleared ${locks} brute-force lock${locks === 1 ? '' : 's'}`].filter(
          Boolean,
        );
        process.stdout.write(`unblocked ${name} in ${tenant.name}/${connection.name}: ${parts.join(', ')}\n`);
      });
    });

  withTarget(
    users
      .command('set-password')
      .description("replace a user's password (this also revokes the user's refresh tokens and clears their brute-force locks)"),
  )
    .argument('<username>', 'username or email')
    .option('--password <password>', 'new password (visible in shell history; prefer --password-stdin)')
    .option('--password-stdin', 'read the new password from standard input')
    .action(async (username: string, options: AdminOptions & PasswordOptions) => {
      const password = await passwordFrom(options);
      await withAdmin(options, 'write', async (admin) => {
        const { tenant, connection, user } = await existingUser(admin, options, username);
        const { refreshTokensRevoked } = await admin.accounts().changePassword(tenant, connection, user, password, 'cli');
        process.stdout.write(`password changed for ${user.username}: ${revokedRefreshTokens(refreshTokensRevoked)}\n`);
      });
    });
}

function revokedRefreshTokens(count: number): string {
  return `revoked ${count} refresh token${count === 1 ? '' : 's'}`;
}

function targetOf(tenant: Tenant, connection: ConnectionRecord) {
  requireDatabaseConnection(connection);
  return { tenantId: tenant.id, connectionId: connection.id, policy: connection.passwordPolicy };
}

/** `latchkey users mfa list|reset <username>`: an operator's view of a user's second factors. */
export function registerUserMfa(program: Command): void {
  const users = program.commands.find((c) => c.name() === 'users');
  if (!users) throw new Error('register users before users mfa');
  const mfa = users.command('mfa').description("list or reset a user's second factors (MFA)");

  withTarget(mfa.command('list').description("list a user's authenticators"))
    .argument('<username>', 'username or email')
    .action(async (username: string, options: AdminOptions) => {
      // Reads only: no migration, no write, no master key, no counters.
      await withAdmin(options, 'read', async (admin) => {
        const { tenant, user } = await existingUser(admin, options, username);
        const { factors, pending, hasRecoveryCode } = await readMfaOverview(admin.stores.mfa, tenant.id, user.id, admin.clock.now());
        if (factors.length === 0) process.stdout.write(`${user.username} has no authenticators\n`);
        const what = (type: string, email: string | null) => (type === 'otp' ? 'otp (authenticator app)' : `email ${email ?? ''}`);
        for (const a of factors) process.stdout.write(`${a.id}  ${what(a.type, a.email)}  active  enrolled ${a.createdAt.toISOString()}\n`);
        if (pending)
          process.stdout.write(
            `${pending.authenticatorId}  ${what(pending.type, pending.email)}  pending confirmation until ${pending.expiresAt.toISOString()}\n`,
          );
        if (hasRecoveryCode) process.stdout.write('recovery code: set\n');
      });
    });

  withTarget(
    mfa
      .command('reset')
      .description('remove every second factor and the recovery code of a user (they enroll again at next sign-in if policy requires)'),
  )
    .argument('<username>', 'username or email')
    .action(async (username: string, options: AdminOptions) => {
      await withAdmin(options, 'write', async (admin) => {
        const { tenant, connection, user } = await existingUser(admin, options, username);
        const removed = await (await admin.mfa()).reset(tenant.id, user.id);
        await admin.securityEvents.record({
          type: 'mfa_authenticator_removed',
          reason: 'operator_reset',
          tenantId: tenant.id,
          connection: connection.name,
          userId: user.id,
          details: { removed },
        });
        process.stdout.write(
          `removed ${removed} authenticator${removed === 1 ? '' : 's'} of ${user.username} in ${tenant.name}/${connection.name}\n`,
        );
      });
    });
}
