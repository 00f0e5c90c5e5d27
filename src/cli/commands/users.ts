import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createUser, setUserPassword, UserAdminError, type UserInput } from '../../identity/user-admin.js';
import { CliUsageError, pickConnection, pickTenant, readStdin, withRuntime, type AdminOptions } from './context.js';

interface PasswordOptions {
  password?: string;
  passwordStdin?: boolean;
}

async function passwordFrom(options: PasswordOptions): Promise<string> {
  if (options.passwordStdin) return readStdin();
  if (options.password !== undefined) return options.password;
  throw new CliUsageError('give the password with --password-stdin (recommended: it stays out of shell history) or --password');
}

function withTarget(command: Command): Command {
  return command
    .option('-c, --config <file>', 'configuration file (default: the demo tenant on ./data)')
    .option('-t, --tenant <name>', 'tenant (default: the only one)')
    .option('--connection <name>', "connection (default: the tenant's default_directory)");
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
      await withRuntime(options, async (runtime) => {
        const tenant = pickTenant(runtime, options.tenant);
        const connection = pickConnection(tenant, options.connection);
        const user = await createUser(runtime.stores.users, tenant.id, connection.id, { username: options.username, email: options.email, name: options.name, password });
        process.stdout.write(`created user ${user.username} (id ${user.id}) in ${tenant.name}/${connection.name}\n`);
      });
    });

  withTarget(users.command('import').description('import users from a JSON array (password or imported bcrypt/argon2 password_hash)'))
    .requiredOption('-f, --file <file>', 'JSON file: [{ "username"|"email", "password"|"password_hash", "name"?, "email_verified"?, "blocked"? }]')
    .action(async (options: AdminOptions & { file: string }) => {
      const entries = parseImportFile(options.file);
      await withRuntime(options, async (runtime) => {
        const tenant = pickTenant(runtime, options.tenant);
        const connection = pickConnection(tenant, options.connection);
        let created = 0;
        const failures: string[] = [];
        for (const [index, entry] of entries.entries()) {
          try {
            await createUser(runtime.stores.users, tenant.id, connection.id, entry);
            created++;
          } catch (err) {
            if (!(err instanceof UserAdminError)) throw err;
            failures.push(`  [${index}] ${entry.username}: ${err.message}`);
          }
        }
        process.stdout.write(`imported ${created} of ${entries.length} users into ${tenant.name}/${connection.name}\n`);
        if (failures.length > 0) {
          process.stdout.write(`skipped ${failures.length}:\n${failures.join('\n')}\n`);
          process.exitCode = 1;
        }
      });
    });

  for (const [name, blocked] of [['block', true], ['unblock', false]] as const) {
    withTarget(users.command(name).description(blocked ? 'refuse every sign-in and refresh of a user' : 'allow a blocked user to sign in again'))
      .argument('<username>', 'username or email')
      .action(async (username: string, options: AdminOptions) => {
        await withRuntime(options, async (runtime) => {
          const tenant = pickTenant(runtime, options.tenant);
          const connection = pickConnection(tenant, options.connection);
          const user = await runtime.stores.users.findByLogin(tenant.id, connection.id, username);
          if (!user) throw new CliUsageError(`no user "${username}" in ${tenant.name}/${connection.name}`);
          await runtime.stores.users.setBlocked(user.id, blocked);
          process.stdout.write(`${blocked ? 'blocked' : 'unblocked'} ${user.username} in ${tenant.name}/${connection.name}\n`);
        });
      });
  }

  withTarget(users.command('set-password').description("replace a user's password"))
    .argument('<username>', 'username or email')
    .option('--password <password>', 'new password (visible in shell history; prefer --password-stdin)')
    .option('--password-stdin', 'read the new password from standard input')
    .action(async (username: string, options: AdminOptions & PasswordOptions) => {
      const password = await passwordFrom(options);
      await withRuntime(options, async (runtime) => {
        const tenant = pickTenant(runtime, options.tenant);
        const connection = pickConnection(tenant, options.connection);
        const user = await runtime.stores.users.findByLogin(tenant.id, connection.id, username);
        if (!user) throw new CliUsageError(`no user "${username}" in ${tenant.name}/${connection.name}`);
        await setUserPassword(runtime.stores.users, user, password);
        process.stdout.write(`password changed for ${user.username}\n`);
      });
    });
}

function parseImportFile(file: string): UserInput[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliUsageError(`${file}: not readable JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(raw)) throw new CliUsageError(`${file}: expected a JSON array of users`);
  return raw.map((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null) throw new CliUsageError(`${file}[${index}]: expected an object`);
    const e = entry as Record<string, unknown>;
    const str = (key: string) => (typeof e[key] === 'string' ? (e[key] as string) : undefined);
    const username = str('username') ?? str('email');
    if (username === undefined) throw new CliUsageError(`${file}[${index}]: needs "username" or "email"`);
    return {
      username,
      email: str('email'),
      emailVerified: e.email_verified === true,
      name: str('name'),
      givenName: str('given_name'),
      familyName: str('family_name'),
      password: str('password'),
      passwordHash: str('password_hash'),
      blocked: e.blocked === true,
    };
  });
}
