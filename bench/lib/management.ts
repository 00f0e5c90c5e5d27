/**
 * The Management API scenarios (issue #15): a tenant of 100,000 users,
 * seeded once straight into the nodes' database (SQLite or PostgreSQL) in
 * one transaction, then `GET /users` pages across the whole list and `q`
 * searches (exact email, name prefix, plain text, username prefix), each
 * answered with Auth0's totals envelope, as the SDK asks for it.
 *
 * The rows are the ones `SqlUserStore.create` writes (`newUserRow`), so the
 * endpoints read them exactly as they read users created any other way.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { openDatabase } from '../../src/storage/database.js';
import { newUserRow } from '../../src/storage/sql/user-store.js';
import type { GetRequest, ScenarioSpec, TokenClient, TokenResponse, VirtualUser } from './load.js';

export const MANAGEMENT_USERS = 100_000;
const INSERT_BATCH = 500;
const PER_PAGE = 50;
const FIRST_NAMES = ['Ann', 'Bob', 'Chloé', 'Dmitri', 'Eve', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kemal', 'Lena', 'Mateo', 'Noor'];
const LAST_NAMES = ['Smith', 'Okafor', 'Nguyen', 'Müller', 'García', 'Kowalski', 'Tanaka', 'Haddad', 'Silva', 'Novak', 'Larsen'];

export interface ManagementBenchTarget {
  /** The nodes' `database` URL. */
  readonly database: string;
  readonly tenant: string;
  readonly connection: string;
  /** Where the measured GETs go: `/{tenant}/api/v2`. */
  readonly basePath: string;
  /** The audience of the Management API token: `{issuer}api/v2/`. */
  readonly audience: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

/** One user of the seeded tenant, by number: what the searches ask for is known in advance. */
function seededUser(index: number) {
  const first = FIRST_NAMES[index % FIRST_NAMES.length] as string;
  const last = LAST_NAMES[Math.floor(index / FIRST_NAMES.length) % LAST_NAMES.length] as string;
  return { username: `user${index}`, email: `user${index}@seed.bench`, name: `${first} ${last} ${index}` };
}

const seeded = new Map<string, Promise<void>>();

/** Seeds the tenant once per run (every virtual user of both scenarios awaits the same promise). */
function seedOnce(target: ManagementBenchTarget): Promise<void> {
  let promise = seeded.get(target.database);
  if (!promise) {
    promise = seedUsers(target);
    seeded.set(target.database, promise);
  }
  return promise;
}

async function seedUsers(target: ManagementBenchTarget): Promise<void> {
  const { db, dialect } = openDatabase(target.database);
  try {
    const tenant = await db.selectFrom('tenants').select('id').where('name', '=', target.tenant).executeTakeFirstOrThrow();
    const connection = await db
      .selectFrom('connections')
      .select('id')
      .where('tenant_id', '=', tenant.id)
      .where('name', '=', target.connection)
      .executeTakeFirstOrThrow();
    const started = performance.now();
    const now = new Date().toISOString();
    await db.transaction().execute(async (trx) => {
      for (let start = 0; start < MANAGEMENT_USERS; start += INSERT_BATCH) {
        const rows = [];
        for (let index = start; index < Math.min(start + INSERT_BATCH, MANAGEMENT_USERS); index++) {
          // No password: nobody signs in as these users, and hashing 100,000 passwords would take minutes.
          rows.push(
            newUserRow({ tenantId: tenant.id, connectionId: connection.id, passwordHash: null, ...seededUser(index) }, randomUUID(), now),
          );
        }
        await trx.insertInto('users').values(rows).execute();
      }
    });
    // PostgreSQL's autovacuum vacuums and analyses a table this changed within a minute or so (statistics for the
    // planner, the visibility map for index-only counts); the measured window should not fall before that. SQLite
    // gathers no statistics unless asked, and Latchkey never asks: its plans are measured so.
    if (dialect === 'postgres') await sql`vacuum analyze users`.execute(db);
    process.stderr.write(`bench: seeded ${MANAGEMENT_USERS} users in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  } finally {
    await db.destroy();
  }
}

/** `GET /users` pages spread over the whole list, and `q` searches of four kinds, four connections each. */
export function managementScenarios(target: ManagementBenchTarget, connections = 4): ScenarioSpec[] {
  const pages = Math.floor(MANAGEMENT_USERS / PER_PAGE);
  return [
    {
      name: 'management-users-list',
      description: `GET /users pages (per_page ${PER_PAGE}, include_totals), ${MANAGEMENT_USERS} users`,
      connections,
      tokenPath: `/${target.tenant}/oauth/token`,
      createUser: (client) =>
        managementUser(client, target, (n) => `/users?per_page=${PER_PAGE}&page=${(n * 7919) % pages}&include_totals=true`),
    },
    {
      name: 'management-users-search',
      description: `GET /users?q= (exact email, name prefix, plain text, username prefix), ${MANAGEMENT_USERS} users`,
      connections,
      tokenPath: `/${target.tenant}/oauth/token`,
      createUser: (client) => managementUser(client, target, (n) => `/users?per_page=${PER_PAGE}&include_totals=true&q=${searchOf(n)}`),
    },
  ];
}

/** The n-th search: the four kinds in turn, over different users and names. */
function searchOf(n: number): string {
  const user = seededUser((n * 7919) % MANAGEMENT_USERS);
  const queries = [`email:"${user.email}"`, `name:${user.name.slice(0, 3)}*`, user.username, `username:${user.username.slice(0, 7)}*`];
  return encodeURIComponent(queries[n % queries.length] as string);
}

/** Waits for the seed, takes a Management API token (client_credentials), then GETs the paths in turn. */
async function managementUser(client: TokenClient, target: ManagementBenchTarget, pathOf: (n: number) => string): Promise<VirtualUser> {
  await seedOnce(target);
  const tokenResponse = await client.post(
    new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: target.clientId,
      client_secret: target.clientSecret,
      audience: target.audience,
    }),
  );
  if (tokenResponse.status !== 200) throw new Error(`Management API token: ${tokenResponse.status} ${tokenResponse.body.slice(0, 300)}`);
  const headers = { authorization: `Bearer ${(JSON.parse(tokenResponse.body) as { access_token: string }).access_token}` };
  let n = Math.floor(Math.random() * 1_000_000);
  const warmUp = await client.get({ path: `${target.basePath}${pathOf(n)}`, headers });
  if (warmUp.status !== 200) throw new Error(`GET ${pathOf(n)}: ${warmUp.status} ${warmUp.body.slice(0, 300)}`);
  return {
    nextRequest: (): GetRequest => {
      n += 1;
      return { path: `${target.basePath}${pathOf(n)}`, headers };
    },
    accept: (response: TokenResponse) =>
      response.status === 200 ? { ok: true } : { ok: false, detail: `HTTP ${response.status}: ${response.body.slice(0, 300)}` },
  };
}
