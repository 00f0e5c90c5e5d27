/**
 * The tenant's signing keys through the Management API (`GET /keys/signing`,
 * `GET /keys/signing/{kid}`, `POST /keys/signing/rotate`, DESIGN.md §9), in
 * what Auth0 answers: each published key with its certificate, whether it
 * signs now (`current`) or was retired by a rotation (`previous`), and since
 * and until when it signed.
 *
 * Auth0 rotates its one RS256 key. A Latchkey tenant signs with a key per
 * algorithm (RS256, ES256, EdDSA: whichever its ID tokens and APIs use), so
 * a rotation here rotates every algorithm the tenant signs with, as
 * `latchkey keys rotate` does by default: "rotate the signing key" means no
 * token is signed with an old key afterwards. The answer names the key that
 * signs the tenant's ID tokens. Retired keys stay published until their last
 * token has expired (tokens/signing-keys.ts); other nodes hear of the change
 * through Redis when set, else within 10 s.
 */
import { notFound } from '../../domain/management-errors.js';
import { Catalog, type Tenant } from '../../domain/tenant.js';
import type { SigningAlg } from '../../config/schema.js';
import { certificateDigests } from '../../tokens/signing-key-certificate.js';
import type { SigningKeys } from '../../tokens/signing-keys.js';

export interface PublishedSigningKey {
  kid: string;
  alg: SigningAlg;
  /** PEM X.509 certificate over the key (self-signed). */
  certificate: string;
  pkcs7: string;
  fingerprint: string;
  thumbprint: string;
  /** Signs now. */
  current: boolean;
  /** Retired by a rotation, still published for the tokens it signed. */
  previous: boolean;
  currentSince: Date;
  currentUntil: Date | undefined;
}

export interface SigningKeyManagementDeps {
  signingKeys: Pick<SigningKeys, 'publishedWithCertificates' | 'rotate'>;
  /** Tells the other nodes (Redis); a no-op without Redis, where they re-read within 10 s. */
  announceKeyChange(tenantId: string): Promise<void>;
}

export class SigningKeyManagement {
  constructor(private readonly deps: SigningKeyManagementDeps) {}

  /** Every published key, newest first. */
  async list(tenant: Tenant): Promise<PublishedSigningKey[]> {
    const records = await this.deps.signingKeys.publishedWithCertificates(tenant.id, certificateName(tenant));
    return records.map((record) => ({
      kid: record.kid,
      alg: record.alg,
      certificate: record.certificate,
      ...certificateDigests(record.certificate),
      current: record.retiredAt === null,
      previous: record.retiredAt !== null,
      currentSince: record.createdAt,
      currentUntil: record.retiredAt ?? undefined,
    }));
  }

  /** 404 inexistent_key for a kid that is not (or no longer) published in this tenant. */
  async get(tenant: Tenant, kid: string): Promise<PublishedSigningKey> {
    const found = (await this.list(tenant)).find((key) => key.kid === kid);
    if (!found) throw notFound('inexistent_key', 'The signing key does not exist.');
    return found;
  }

  /** New keys for every algorithm the tenant signs with; returns the one that signs its ID tokens. */
  async rotate(tenant: Tenant): Promise<PublishedSigningKey> {
    const fresh = new Map<SigningAlg, string>();
    for (const alg of tenant.signingAlgs) {
      const key = await this.deps.signingKeys.rotate(tenant.id, alg, Catalog.maxTokenLifetime(tenant, alg));
      fresh.set(alg, key.kid);
    }
    await this.deps.announceKeyChange(tenant.id);
    const kid = fresh.get(tenant.settings.id_token_signing_alg) ?? [...fresh.values()][0];
    return this.get(tenant, kid ?? '');
  }
}

/** The certificate's subject: the tenant's issuer, without the scheme (Auth0's is the tenant's domain). */
function certificateName(tenant: Tenant): string {
  return tenant.endpoints.issuer.replace(/^https?:\/\//, '').replace(/\/$/, '');
}
