import type { Command } from 'commander';
import { closeOnSignals, startServer } from '../../server.js';
import { cliConfig } from '../config-source.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the authorization server (without --config or LATCHKEY_CONFIG: the demo tenant on ./data)')
    .option('-c, --config <file>', 'configuration file (YAML; default: $LATCHKEY_CONFIG)')
    .option('-p, --port <port>', 'port for the demo tenant (ignored with --config)', '3000')
    .action(async (options: { config?: string; port: string }) => {
      const { config, demo } = cliConfig(options.config, Number(options.port));
      const server = await startServer(config);
      closeOnSignals(server);
      server.runtime.logger.info(
        { url: server.url, operations_url: server.operationsUrl, tenants: server.runtime.catalog.all().map((t) => t.name) },
        'latchkey is listening',
      );
      if (demo) {
        // Only serve falls back to the demo (DESIGN.md §1), and says so: an operator who meant a file sees it was not read.
        server.runtime.logger.warn(
          { data_dir: config.dataDir },
          'no configuration (--config or LATCHKEY_CONFIG): serving the demo tenant from ./data',
        );
        process.stdout.write(
          `\nLatchkey demo tenant is ready. Get tokens with the password grant:\n\n${demo.curl(config.public_url)}\n\n` +
            `Discovery: ${config.public_url}/demo/.well-known/openid-configuration\n\n`,
        );
      }
    });
}
