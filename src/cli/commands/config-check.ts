import type { Command } from 'commander';
import pino from 'pino';
import { loadConfigFile } from '../../config/load.js';
import { HookRunner } from '../../hooks/hook-runner.js';
import { ldapDirectoryFor } from '../../identity/sources/ldap.js';
import { readTrustedCa } from '../../identity/sources/trusted-ca.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration file tools');
  config
    .command('check')
    .description('validate a configuration file without starting the server')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .action(async (options: { config: string }) => {
      const loaded = loadConfigFile(options.config);
      // What `serve` would refuse at start-up beyond the schema: CA files, LDAP filters, hook modules.
      for (const tenant of loaded.tenants) {
        for (const connection of tenant.connections) {
          if (connection.type === 'ldap') await ldapDirectoryFor(connection, () => undefined).close();
          else if (connection.tls_ca !== undefined) readTrustedCa(connection.tls_ca, connection.name);
        }
      }
      const hookPaths = [...new Set(loaded.tenants.flatMap((t) => t.hooks.post_login))];
      if (hookPaths.length > 0) await (await HookRunner.start(hookPaths, 1, pino({ level: 'silent' }))).close();
      const summary = loaded.tenants.map((t) => `${t.name} (${t.connections.length} connections, ${t.apis.length} APIs, ${t.applications.length} applications, ${t.users.length} users)`);
      process.stdout.write(`${options.config}: valid\n  issuer base ${loaded.public_url}\n  database ${loaded.database.replace(/\/\/[^@]*@/, '//***@')}\n  tenants: ${summary.join('; ')}\n`);
    });
}
