import type { Command } from 'commander';
import { SIGNING_ALGS, type SigningAlg } from '../../config/schema.js';
import { Catalog } from '../../domain/tenant.js';
import { CONFIG_OPTION_HELP, CliUsageError, pickTenant, withAdmin, type AdminOptions } from './context.js';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('signing keys');
  keys
    .command('rotate')
    .description('start signing with new keys; old public keys stay in the JWKS until their last token expires')
    .option('-c, --config <file>', CONFIG_OPTION_HELP)
    .option('-t, --tenant <name>', 'tenant (default: the only one)')
    .option('--alg <alg>', `only this algorithm (${SIGNING_ALGS.join(', ')}); default: every one the tenant uses`)
    .action(async (options: AdminOptions & { alg?: string }) => {
      await withAdmin(options, 'write', async (admin) => {
        const tenant = pickTenant(admin, options.tenant);
        if (options.alg !== undefined && !tenant.signingAlgs.includes(options.alg as SigningAlg)) {
          throw new CliUsageError(`tenant ${tenant.name} does not sign with ${options.alg} (it uses ${tenant.signingAlgs.join(', ')})`);
        }
        const algs = options.alg === undefined ? tenant.signingAlgs : [options.alg as SigningAlg];
        for (const alg of algs) {
          const lifetime = Catalog.maxTokenLifetime(tenant, alg);
          const fresh = await admin.signingKeys.rotate(tenant.id, alg, lifetime);
          await admin.announceKeyChange(tenant.id);
          process.stdout.write(
            `${tenant.name}: new ${alg} signing key ${fresh.kid}; the previous one stays published for ${lifetime} s plus skew\n`,
          );
        }
      });
    });
}
