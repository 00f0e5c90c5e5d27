import type { Command } from 'commander';
import { loadConfigFile } from '../../config/load.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration file tools');
  config
    .command('check')
    .description('validate a configuration file without starting the server')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .action((options: { config: string }) => {
      const loaded = loadConfigFile(options.config);
      const summary = loaded.tenants.map((t) => `${t.name} (${t.connections.length} connections, ${t.apis.length} APIs, ${t.applications.length} applications, ${t.users.length} users)`);
      process.stdout.write(`${options.config}: valid\n  issuer base ${loaded.public_url}\n  database ${loaded.database.replace(/\/\/[^@]*@/, '//***@')}\n  tenants: ${summary.join('; ')}\n`);
    });
}
