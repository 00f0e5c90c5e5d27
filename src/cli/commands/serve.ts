import { type Command, InvalidArgumentError } from 'commander';
import { closeOnSignals, startServer } from '../../server.js';
import { cliConfig } from '../config-source.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the authorization server (without --config or LATCHKEY_CONFIG: the demo tenant on ./data)')
    .option('-c, --config <file>', 'configuration file (YAML; default: $LATCHKEY_CONFIG)')
    .option(
      '-p, --port <port>',
      "the public listener's port: wins over listen.port and LATCHKEY_LISTEN_PORT; public_url, when not set, follows it (default: listen.port, 3000)",
      parsePort,
    )
    .action(async (options: { config?: string; port?: number }) => {
      const { config, demo } = cliConfig(options.config, options.port);
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

function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new InvalidArgumentError('a port number 1-65535.');
  return port;
}
