/**
 * `latchkey logs`: reads the security events (logins, locks, unblocks,
 * throttles, policy refusals), newest first, with filters.
 */
import type { Command } from 'commander';
import { SECURITY_EVENT_TYPES } from '../../observability/security-events.js';
import type { StoredSecurityEvent } from '../../storage/stores.js';
import { CONFIG_OPTION_HELP, CliUsageError, pickConnection, pickTenant, withAdmin, type AdminOptions } from './context.js';

interface LogsOptions extends AdminOptions {
  type?: string;
  user?: string;
  ip?: string;
  client?: string;
  since?: string;
  until?: string;
  limit: string;
  json?: boolean;
}

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('show security events (login successes and failures, locks, unblocks, throttles, policy refusals), newest first')
    .option('-c, --config <file>', CONFIG_OPTION_HELP)
    .option('-t, --tenant <name>', 'tenant (default: the only one)')
    .option('--type <types>', `comma-separated event types: ${SECURITY_EVENT_TYPES.join(', ')}`)
    .option('--user <login>', 'a username, email or user id (also matches the login name as typed, for unknown names)')
    .option('--ip <address>', 'end-user IP address')
    .option('--client <client_id>', 'application')
    .option('--since <when>', 'ISO-8601 instant, or a duration ago: 30m, 12h, 7d')
    .option('--until <when>', 'ISO-8601 instant, or a duration ago')
    .option('-n, --limit <n>', 'at most this many events', '100')
    .option('--json', 'one JSON object per line')
    .action(async (options: LogsOptions) => {
      const types = options.type
        ?.split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '');
      const unknown = types?.filter((t) => !(SECURITY_EVENT_TYPES as readonly string[]).includes(t)) ?? [];
      if (unknown.length > 0)
        throw new CliUsageError(`unknown event type ${unknown.join(', ')} (known: ${SECURITY_EVENT_TYPES.join(', ')})`);
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000)
        throw new CliUsageError('--limit must be a whole number from 1 to 100000');
      // Reads only: no migration, no write (a database not yet migrated by a start is refused with one line).
      await withAdmin(options, 'read', async (admin) => {
        const now = admin.clock.now();
        const tenant = pickTenant(admin, options.tenant);
        const base = {
          tenantId: tenant.id,
          types,
          ip: options.ip,
          clientId: options.client,
          since: options.since === undefined ? undefined : parseWhen(options.since, now, '--since'),
          until: options.until === undefined ? undefined : parseWhen(options.until, now, '--until'),
          limit,
        };
        let events: StoredSecurityEvent[];
        if (options.user === undefined) {
          events = await admin.stores.securityEvents.query(base);
        } else {
          // A user's events carry their id; attempts on unknown or locked names carry only the name as typed.
          const connection = pickConnection(tenant, undefined);
          const { users } = admin.stores;
          const user = (await users.findByLogin(tenant.id, connection.id, options.user)) ?? (await users.findById(tenant.id, options.user));
          const byId = user ? await admin.stores.securityEvents.query({ ...base, userId: user.id }) : [];
          const byName = await admin.stores.securityEvents.query({ ...base, identifier: options.user });
          // An event can match both queries (a known user's attempt carries the id and the name): list it once.
          const byEventId = new Map([...byId, ...byName].map((e) => [e.id, e]));
          events = [...byEventId.values()].sort((a, b) => b.at.getTime() - a.at.getTime()).slice(0, limit);
        }
        for (const event of events)
          process.stdout.write(options.json ? `${JSON.stringify(toJson(event, tenant.name))}\n` : `${toLine(event)}\n`);
        if (!options.json && events.length === 0) process.stderr.write('no security events match\n');
      });
    });
}

function parseWhen(value: string, now: Date, flag: string): Date {
  const duration = /^(\d+)\s*([smhd])$/.exec(value.trim());
  if (duration) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[duration[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(duration[1]) * unit * 1000);
  }
  const instant = new Date(value);
  if (Number.isNaN(instant.getTime()))
    throw new CliUsageError(`${flag} takes an ISO-8601 instant (2026-11-22T10:00:00Z) or a duration ago (30m, 12h, 7d)`);
  return instant;
}

function toJson(event: StoredSecurityEvent, tenantName: string): Record<string, unknown> {
  return {
    at: event.at.toISOString(),
    type: event.type,
    reason: event.reason,
    tenant: tenantName,
    client_id: event.clientId,
    connection: event.connection,
    user_id: event.userId,
    identifier: event.identifier,
    ip: event.ip,
    details: event.details,
  };
}

function toLine(event: StoredSecurityEvent): string {
  const fields: Array<[string, string | undefined]> = [
    ['reason', event.reason],
    ['client', event.clientId],
    ['connection', event.connection],
    ['user', event.userId],
    ['login', event.identifier === undefined ? undefined : JSON.stringify(event.identifier)],
    ['ip', event.ip],
  ];
  const details =
    event.details === undefined
      ? ''
      : ` ${Object.entries(event.details)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`;
  return `${event.at.toISOString()} ${event.type.padEnd(23)} ${fields
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}${details}`;
}
