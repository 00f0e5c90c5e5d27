/**
 * Issue #15 point 1: the account tickets (src/storage/account-tickets.ts,
 * DESIGN.md §8) have one SQL implementation for SQLite and PostgreSQL. One
 * suite, written against the store interface (SQL only to read the raw
 * rows), runs on a fresh SQLite file and on a scratch PostgreSQL database
 * (when LATCHKEY_TEST_DATABASE_URL names one; otherwise skipped, with the
 * reason printed), as test/storage/browser-stores.test.ts does.
 *
 * What the reset and verification pages rely on: a ticket is found only in
 * its tenant and under its kind; it is spent once however many
 * presentations race, never after its expiry, and a spent one is still
 * found with its `usedAt` (the page tells a used link from an unknown one);
 * only the hash the caller gives is stored; instants come back to the
 * millisecond. Time is always passed in (`now`), never waited for.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { AccountTicketKind } from '../../src/storage/account-tickets.js';
import type { Database } from '../../src/storage/schema.js';
import type { Stores } from '../../src/storage/stores.js';
import { scratchPostgresStores, sqliteStores } from '../helpers/migrated-stores.js';
import { postgresSkip } from '../helpers/postgres.js';

interface Subject {
  stores: Stores;
  db: Kysely<Database>;
  close(): Promise<void>;
}

const T0 = Date.parse('2031-03-04T05:06:07.089Z');
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);
const HOUR = 3600 * 1000;
const CONCURRENCY = 20;
const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');

function accountTickets(open: () => Promise<Subject>): void {
  let subject: Subject;
  before(async () => {
    subject = await open();
  });
  after(async () => {
    await subject?.close();
  });

  async function issued(kind: AccountTicketKind = 'reset_password', tenantId = `t-${randomUUID()}`) {
    const value = randomUUID();
    const ticket = { ticketHash: sha256(value), tenantId, userId: `u-${randomUUID()}`, kind, createdAt: at(0), expiresAt: at(HOUR) };
    await subject.stores.accountTickets.create(ticket);
    return { value, ticket };
  }

  it('stores the hash it is given and gives the ticket back with its instants to the millisecond', async () => {
    const { value, ticket } = await issued('verify_email');
    const found = await subject.stores.accountTickets.find(ticket.tenantId, 'verify_email', ticket.ticketHash);
    assert.deepEqual(found, { ...ticket, usedAt: null });
    const rows = await subject.db.selectFrom('account_tickets').selectAll().where('tenant_id', '=', ticket.tenantId).execute();
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(value), 'the plain ticket is nowhere in the row');
  });

  it("keeps a Management API ticket's options (result_url, mark_email_verified, email_in_redirect) and gives them back", async () => {
    const onSpent = { resultUrl: 'https://app.example/after?x=1', markEmailVerified: true, emailInRedirect: true };
    const ticket = {
      ticketHash: sha256(randomUUID()),
      tenantId: `t-${randomUUID()}`,
      userId: 'u',
      kind: 'reset_password' as const,
      createdAt: at(0),
      expiresAt: at(HOUR),
      onSpent,
    };
    await subject.stores.accountTickets.create(ticket);
    assert.deepEqual(await subject.stores.accountTickets.find(ticket.tenantId, 'reset_password', ticket.ticketHash), {
      ...ticket,
      usedAt: null,
    });
    const bare = {
      ...ticket,
      ticketHash: sha256(randomUUID()),
      onSpent: { resultUrl: null, markEmailVerified: true, emailInRedirect: false },
    };
    await subject.stores.accountTickets.create(bare);
    assert.deepEqual((await subject.stores.accountTickets.find(bare.tenantId, 'reset_password', bare.ticketHash))?.onSpent, bare.onSpent);
  });

  it('is found only in its tenant and under its kind', async () => {
    const { ticket } = await issued('reset_password');
    const store = subject.stores.accountTickets;
    assert.equal(await store.find('another-tenant', 'reset_password', ticket.ticketHash), undefined);
    assert.equal(await store.find(ticket.tenantId, 'verify_email', ticket.ticketHash), undefined);
    assert.equal(await store.consume('another-tenant', 'reset_password', ticket.ticketHash, at(1)), false);
    assert.equal(await store.consume(ticket.tenantId, 'verify_email', ticket.ticketHash, at(1)), false);
    assert.equal((await store.find(ticket.tenantId, 'reset_password', ticket.ticketHash))?.usedAt, null, 'still unused');
  });

  it('is spent once however many presentations race, and stays findable with its usedAt', async () => {
    const { ticket } = await issued();
    const store = subject.stores.accountTickets;
    const results = await Promise.all(
      Array.from({ length: CONCURRENCY }, () => store.consume(ticket.tenantId, 'reset_password', ticket.ticketHash, at(1000))),
    );
    assert.equal(results.filter(Boolean).length, 1, 'exactly one winner');
    assert.deepEqual((await store.find(ticket.tenantId, 'reset_password', ticket.ticketHash))?.usedAt, at(1000));
    assert.equal(await store.consume(ticket.tenantId, 'reset_password', ticket.ticketHash, at(2000)), false);
  });

  it('is never spent at or after its expiry', async () => {
    const { ticket } = await issued();
    const store = subject.stores.accountTickets;
    assert.equal(await store.consume(ticket.tenantId, 'reset_password', ticket.ticketHash, at(HOUR)), false, 'at the expiry');
    assert.equal(await store.consume(ticket.tenantId, 'reset_password', ticket.ticketHash, at(HOUR + 1)), false, 'after it');
    assert.equal((await store.find(ticket.tenantId, 'reset_password', ticket.ticketHash))?.usedAt, null);
    assert.equal(await store.consume(ticket.tenantId, 'reset_password', ticket.ticketHash, at(HOUR - 1)), true, 'just before it');
  });

  it('an unknown ticket is neither found nor spent', async () => {
    const store = subject.stores.accountTickets;
    assert.equal(await store.find('t', 'reset_password', sha256('never issued')), undefined);
    assert.equal(await store.consume('t', 'reset_password', sha256('never issued'), at(0)), false);
  });

  it('the purge removes tickets a day past their expiry, not before', async () => {
    const { ticket } = await issued();
    await subject.stores.purgeExpired(at(HOUR + 23 * HOUR));
    assert.ok(await subject.stores.accountTickets.find(ticket.tenantId, 'reset_password', ticket.ticketHash), 'kept within the day');
    await subject.stores.purgeExpired(at(HOUR + 24 * HOUR));
    assert.equal(await subject.stores.accountTickets.find(ticket.tenantId, 'reset_password', ticket.ticketHash), undefined, 'purged');
  });
}

describe('account tickets: SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-account-tickets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  accountTickets(() => sqliteStores(join(dir, 'stores.db')));
});

describe('account tickets: PostgreSQL', { skip: postgresSkip('account tickets: PostgreSQL') }, () => {
  accountTickets(scratchPostgresStores);
});
