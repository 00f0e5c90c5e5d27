import type { Kysely, Selectable } from 'kysely';
import type { SigningAlg } from '../../config/schema.js';
import type { Database, SigningKeysTable } from '../schema.js';
import type { SigningKeyRecord, SigningKeyStore } from '../stores.js';
import { fromIso, fromIsoOrNull, toIso } from './time.js';

function toRecord(row: Selectable<SigningKeysTable>): SigningKeyRecord {
  return {
    kid: row.kid,
    tenantId: row.tenant_id,
    alg: row.alg as SigningAlg,
    publicJwk: JSON.parse(row.public_jwk) as Record<string, unknown>,
    privateKeySealed: row.private_key_sealed,
    createdAt: fromIso(row.created_at),
    retiredAt: fromIsoOrNull(row.retired_at),
    publishUntil: fromIsoOrNull(row.publish_until),
    ...(row.certificate === null ? {} : { certificate: row.certificate }),
  };
}

function toRow(key: SigningKeyRecord): Selectable<SigningKeysTable> {
  return {
    kid: key.kid,
    tenant_id: key.tenantId,
    alg: key.alg,
    public_jwk: JSON.stringify(key.publicJwk),
    private_key_sealed: key.privateKeySealed,
    created_at: toIso(key.createdAt),
    retired_at: key.retiredAt && toIso(key.retiredAt),
    publish_until: key.publishUntil && toIso(key.publishUntil),
    certificate: key.certificate ?? null,
  };
}

export class SqlSigningKeyStore implements SigningKeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async listPublished(tenantId: string, now: Date): Promise<SigningKeyRecord[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where((eb) => eb.or([eb('publish_until', 'is', null), eb('publish_until', '>', toIso(now))]))
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toRecord);
  }

  async keepCertificate(tenantId: string, kid: string, certificate: string): Promise<string> {
    // Conditional: two nodes making a certificate for the same key at once keep the first one written.
    await this.db
      .updateTable('signing_keys')
      .set({ certificate })
      .where('tenant_id', '=', tenantId)
      .where('kid', '=', kid)
      .where('certificate', 'is', null)
      .execute();
    const row = await this.db
      .selectFrom('signing_keys')
      .select('certificate')
      .where('tenant_id', '=', tenantId)
      .where('kid', '=', kid)
      .executeTakeFirst();
    return row?.certificate ?? certificate;
  }

  async insert(key: SigningKeyRecord): Promise<void> {
    await this.db.insertInto('signing_keys').values(toRow(key)).execute();
  }

  async rotate(newKey: SigningKeyRecord, publishOldUntil: Date): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('signing_keys')
        .set({ retired_at: toIso(newKey.createdAt), publish_until: toIso(publishOldUntil) })
        .where('tenant_id', '=', newKey.tenantId)
        .where('alg', '=', newKey.alg)
        .where('retired_at', 'is', null)
        .execute();
      await tx.insertInto('signing_keys').values(toRow(newKey)).execute();
    });
  }
}
