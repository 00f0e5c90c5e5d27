/**
 * `latchkey apps list|show` (issue #15 point 6): a tenant's applications as
 * the catalog serves them (declared in the file, or created through the API).
 * Reads only. What is shown is picked field by field, never the stored
 * settings spread out: a client secret, or its HMAC, must never be printed,
 * whatever a later setting adds.
 */
import type { Command } from 'commander';
import type { Tenant } from '../../domain/tenant.js';
import type { ApplicationRecord } from '../../storage/stores.js';
import { CONFIG_OPTION_HELP, CliUsageError, pickTenant, withAdmin, type AdminOptions } from './context.js';
import { printRecord, printTable } from './output.js';

export function registerApps(program: Command): void {
  const apps = program.command('apps').description("a tenant's applications (clients), without their secrets");
  apps
    .command('list')
    .description('list the applications the tenant serves')
    .option('-c, --config <file>', CONFIG_OPTION_HELP)
    .option('-t, --tenant <name>', 'tenant (default: the only one)')
    .option('--json', 'one JSON object per line')
    .action(async (options: AdminOptions & { json?: boolean }) => {
      await withAdmin(options, 'read', async (admin) => {
        const tenant = pickTenant(admin, options.tenant);
        const shown = [...tenant.applications.values()]
          .sort((a, b) => a.clientId.localeCompare(b.clientId))
          .map((app) => describeApp(tenant, app));
        if (options.json) {
          for (const app of shown) process.stdout.write(`${JSON.stringify(app)}\n`);
          return;
        }
        printTable(
          ['CLIENT_ID', 'NAME', 'AUTH METHOD', 'GRANT TYPES', 'CALLBACKS'],
          shown.map((a) => [
            a.client_id,
            a.name ?? '-',
            a.token_endpoint_auth_method,
            a.grant_types.join(','),
            a.callbacks.join(',') || '-',
          ]),
        );
      });
    });
  apps
    .command('show')
    .description('show one application: auth method, grants, callbacks, client grants (never its secret)')
    .argument('<client_id>', 'the application')
    .option('-c, --config <file>', CONFIG_OPTION_HELP)
    .option('-t, --tenant <name>', 'tenant (default: the only one)')
    .option('--json', 'one JSON object')
    .action(async (clientId: string, options: AdminOptions & { json?: boolean }) => {
      await withAdmin(options, 'read', async (admin) => {
        const tenant = pickTenant(admin, options.tenant);
        const app = tenant.applications.get(clientId);
        if (!app) throw new CliUsageError(`no application "${clientId}" in tenant ${tenant.name}`);
        const shown = describeApp(tenant, app);
        printRecord(shown, {
          json: options.json,
          special: {
            client_grants: () => shown.client_grants.map((g) => `${g.audience} (${g.scope.join(' ') || 'no scopes'})`).join('; ') || 'none',
          },
        });
      });
    });
}

function describeApp(tenant: Tenant, app: ApplicationRecord) {
  const { settings } = app;
  return {
    client_id: app.clientId,
    name: settings.name ?? null,
    token_endpoint_auth_method: settings.token_endpoint_auth_method,
    // Whether it has a secret, never the secret or its hash.
    has_client_secret: app.clientSecretHash !== null,
    grant_types: [...settings.grant_types],
    callbacks: [...settings.callbacks],
    allowed_logout_urls: [...settings.allowed_logout_urls],
    default_audience: settings.default_audience ?? null,
    jwks_kids: (settings.jwks?.keys ?? []).map((k) => (typeof k.kid === 'string' ? k.kid : '(no kid)')),
    client_grants: [...(tenant.clientGrants.get(app.clientId)?.entries() ?? [])].map(([audience, scope]) => ({
      audience,
      scope: [...scope],
    })),
  };
}
