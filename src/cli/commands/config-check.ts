import type { Command } from 'commander';
import pino from 'pino';
import { configWarnings } from '../../config/config-warnings.js';
import { consequenceOfDisabling, describeObject, planApiCreated, planCatalog, type CatalogChange } from '../../config/declared-catalog.js';
import { loadConfigFile, type LatchkeyConfig } from '../../config/load.js';
import { configJsonSchemaText } from '../../config/reference.js';
import { HookRunner } from '../../hooks/hook-runner.js';
import { ldapDirectoryFor } from '../../identity/sources/ldap.js';
import { readTrustedCa } from '../../identity/sources/trusted-ca.js';
import { describeError } from '../../observability/error-text.js';
import { CATALOG_AUTHORITY_MIGRATION, hasMigrated, openDatabaseReadOnly } from '../../storage/database.js';
import { createSqlStores } from '../../storage/sql/index.js';
import { configFileOf, NoConfigurationError } from '../config-source.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration file tools');
  config
    .command('check')
    .description('validate a configuration file without starting the server, and list what a start with it would disable')
    .option('-c, --config <file>', 'configuration file (YAML; default: $LATCHKEY_CONFIG)')
    .action(async (options: { config?: string }) => {
      const file = configFileOf(options.config);
      if (file === undefined) throw new NoConfigurationError();
      const loaded = loadConfigFile(file);
      // What `serve` would refuse at start-up beyond the schema: CA files, LDAP filters, hook modules.
      for (const tenant of loaded.tenants) {
        for (const connection of tenant.connections) {
          if (connection.type === 'ldap') await ldapDirectoryFor(connection, () => undefined).close();
          else if (connection.tls_ca !== undefined) readTrustedCa(connection.tls_ca, connection.name);
        }
      }
      const hookPaths = [...new Set(loaded.tenants.flatMap((t) => t.hooks.post_login))];
      if (hookPaths.length > 0) await (await HookRunner.start(hookPaths, 1, pino({ level: 'silent' }))).close();
      const summary = loaded.tenants.map(
        (t) =>
          `${t.name} (${t.connections.length} connections, ${t.apis.length} APIs, ${t.applications.length} applications, ${t.client_grants.length} client grants, ${t.users.length} users)`,
      );
      const warnings = configWarnings(loaded.tenants).map((w) => `  warning: ${w.path}: ${w.message}`);
      const nextStart = await describeNextStart(loaded);
      process.stdout.write(
        `${file}: valid\n  issuer base ${loaded.public_url}\n  database ${loaded.database.replace(/\/\/[^@]*@/, '//***@')}\n  tenants: ${summary.join('; ')}\n` +
          [...warnings, ...nextStart].map((line) => `${line}\n`).join(''),
      );
    });
  config
    .command('schema')
    .description("print the configuration file's JSON Schema (draft 2020-12), for editors and validators (docs/configuration.md)")
    .action(() => {
      // The same text as docs/latchkey.schema.json, so `latchkey config schema > file` gives the schema of the running version.
      process.stdout.write(configJsonSchemaText());
    });
}

/**
 * DESIGN.md §2: what a start with this file would stop serving (and serve
 * again), compared with what the database says the file declared at the
 * last start. Reads the database only: no migration, no write.
 */
async function describeNextStart(config: LatchkeyConfig): Promise<string[]> {
  const database = openDatabaseReadOnly(config.database);
  if (!database) return ['  next start: the database does not exist yet; the first start creates it, so nothing would be disabled'];
  try {
    if (!(await hasMigrated(database.db, CATALOG_AUTHORITY_MIGRATION))) {
      return [
        `  next start: the database predates migration ${CATALOG_AUTHORITY_MIGRATION}, so it does not record what the file declared; skipped (a start migrates it)`,
      ];
    }
    const stores = createSqlStores(database.db);
    const declared = await stores.catalog.listDeclared();
    const plan = planCatalog(config.tenants, declared);
    const usersOf = async (change: CatalogChange) =>
      change.kind === 'connection' ? ` (${await stores.users.countInConnection(change.tenantId, change.id)} users)` : '';
    const lines: string[] = [];
    if (plan.disable.length === 0)
      lines.push(
        '  next start disables nothing: every application, API, client grant, connection and tenant declared at the last start is still in this file',
      );
    else lines.push('  next start disables (declared at the last start, not in this file; data kept, not served):');
    for (const change of plan.disable)
      lines.push(`    ${change.tenant}: ${describeObject(change)}${await usersOf(change)}: ${consequenceOfDisabling(change.kind)}`);
    if (plan.restore.length > 0) lines.push('  next start serves again (disabled at an earlier start, declared again):');
    for (const change of plan.restore) lines.push(`    ${change.tenant}: ${describeObject(change)}`);
    if (plan.stillDisabled.length > 0) lines.push('  stays disabled (not in this file since an earlier start; data kept):');
    for (const change of plan.stillDisabled) lines.push(`    ${change.tenant}: ${describeObject(change)}${await usersOf(change)}`);
    // DESIGN.md §9: what the Management API created is not in the file; listed so an operator sees everything served.
    const created = planApiCreated(config.tenants, declared, await stores.catalog.listCreatedThroughApi());
    if (created.kept.length > 0) lines.push('  created through the Management API (not in this file; kept and served at every start):');
    for (const change of created.kept) lines.push(`    ${change.tenant}: ${describeObject(change)}`);
    if (created.takenOver.length > 0)
      lines.push(
        '  next start takes over (created through the Management API, now declared in this file; read-only through the API from then on):',
      );
    for (const change of created.takenOver) lines.push(`    ${change.tenant}: ${describeObject(change)}`);
    return lines;
  } catch (err) {
    return [
      `  next start: cannot read the database ${database.describe} (${describeError(err)}); skipped the comparison with what it holds`,
    ];
  } finally {
    await database.db.destroy();
  }
}
