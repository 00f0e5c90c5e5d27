/**
 * The `latchkey` command line. Operator errors (bad config, unknown user)
 * print one clear line and exit 1; they are never stack traces.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { HookLoadError } from '../hooks/hook-runner.js';
import { MasterKeyError } from '../crypto/master-key.js';
import { UserAdminError } from '../identity/user-admin.js';
import { ListenError } from '../server.js';
import { DatabaseConfigError } from '../storage/database.js';
import { registerConfig } from './commands/config-check.js';
import { registerKeys } from './commands/keys.js';
import { registerLogs } from './commands/logs.js';
import { registerServe } from './commands/serve.js';
import { CliUsageError } from './commands/context.js';
import { NoConfigurationError } from './config-source.js';
import { registerUserMfa, registerUsers } from './commands/users.js';
import { registerUserRecords } from './commands/user-records.js';
import { registerApps } from './commands/apps.js';
import { LATCHKEY_VERSION } from '../observability/build-info.js';

const program = new Command('latchkey')
  .description('Latchkey: OAuth 2.0 / OpenID Connect password sign-in server')
  .version(LATCHKEY_VERSION, '-V, --version', 'print the version')
  .showHelpAfterError()
  .exitOverride();

registerServe(program);
registerConfig(program);
registerUsers(program);
registerUserMfa(program);
registerUserRecords(program);
registerApps(program);
registerKeys(program);
registerLogs(program);

const OPERATOR_ERRORS = [
  ConfigError,
  MasterKeyError,
  UserAdminError,
  DatabaseConfigError,
  CliUsageError,
  ListenError,
  HookLoadError,
  NoConfigurationError,
];

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (OPERATOR_ERRORS.some((type) => err instanceof type)) {
    process.stderr.write(`latchkey: ${(err as Error).message}\n`);
    process.exit(1);
  }
  process.stderr.write(`latchkey: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
