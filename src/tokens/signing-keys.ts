/**
 * Per-tenant signing keys. Private keys are sealed with the master key at
 * rest and held in memory as ready signers (a node:crypto KeyObject and the
 * encoded headers, made once per key; see jwt-signer.ts).
 * Rotation keeps the old public key published until every token it signed
 * has expired.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Clock } from '../clock.js';
import type { SigningAlg } from '../config/schema.js';
import type { Sealer } from '../crypto/secrets.js';
import type { SigningKeyRecord, SigningKeyStore } from '../storage/stores.js';
import { JwtSigner } from './jwt-signer.js';
import { selfSignedCertificate } from './signing-key-certificate.js';

interface TenantKeys {
  active: Map<SigningAlg, JwtSigner>;
  verification: Map<string, { alg: SigningAlg; publicKey: CryptoKey }>;
  loadedAt: number;
}

/** How long a node keeps using its cached keys before it looks for a rotation. */
export const KEY_CACHE_SECONDS = 10;
/** Clock skew every verifier is assumed to allow. */
export const CLOCK_SKEW_SECONDS = 60;

export class SigningKeys {
  private readonly cache = new Map<string, TenantKeys>();
  private readonly loading = new Map<string, Promise<TenantKeys>>();

  constructor(
    private readonly store: SigningKeyStore,
    private readonly sealer: Sealer,
    private readonly clock: Clock,
  ) {}

  /** Creates a key for every algorithm the tenant signs with and has none for yet. */
  async ensureKeys(tenantId: string, algs: Iterable<SigningAlg>): Promise<SigningAlg[]> {
    const published = await this.store.listPublished(tenantId, this.clock.now());
    const created: SigningAlg[] = [];
    for (const alg of new Set(algs)) {
      if (published.some((k) => k.alg === alg && k.retiredAt === null)) continue;
      await this.store.insert(await this.generate(tenantId, alg));
      created.push(alg);
    }
    this.cache.delete(tenantId);
    return created;
  }

  /**
   * Makes a new key the signing key for `alg`; the retired one stays in the
   * JWKS for `maxTokenLifetimeSeconds` plus skew and this cache's lifetime.
   */
  async rotate(tenantId: string, alg: SigningAlg, maxTokenLifetimeSeconds: number): Promise<SigningKeyRecord> {
    const fresh = await this.generate(tenantId, alg);
    const publishOldUntil = new Date(fresh.createdAt.getTime() + (maxTokenLifetimeSeconds + CLOCK_SKEW_SECONDS + KEY_CACHE_SECONDS) * 1000);
    await this.store.rotate(fresh, publishOldUntil);
    this.cache.delete(tenantId);
    return fresh;
  }

  /** Another node changed this tenant's keys: read them again at the next use. */
  forget(tenantId: string): void {
    this.cache.delete(tenantId);
  }

  async activeKey(tenantId: string, alg: SigningAlg): Promise<JwtSigner> {
    const key = (await this.keysFor(tenantId)).active.get(alg);
    if (!key) throw new Error(`tenant ${tenantId} has no active ${alg} signing key; restart to let config apply create it`);
    return key;
  }

  async verificationKey(tenantId: string, kid: string): Promise<{ alg: SigningAlg; publicKey: CryptoKey } | undefined> {
    const keys = await this.keysFor(tenantId);
    const found = keys.verification.get(kid);
    if (found || this.clock.now().getTime() - keys.loadedAt < 1000) return found;
    // An unknown kid may be a key another node just rotated in: reload once, at most every second.
    return (await this.reload(tenantId)).verification.get(kid);
  }

  /** The public JWK Set: read from storage each time, so every node serves a rotation at once. */
  async jwks(tenantId: string): Promise<{ keys: JWK[] }> {
    const published = await this.store.listPublished(tenantId, this.clock.now());
    return { keys: published.map((k) => ({ ...(k.publicJwk as JWK), kid: k.kid, alg: k.alg, use: 'sig' })) };
  }

  /**
   * The published keys, newest first, each with its self-signed certificate
   * (`commonName` its subject): made at a key's first reading and kept, so
   * every later read and every node answers the same one.
   */
  async publishedWithCertificates(tenantId: string, commonName: string): Promise<Array<SigningKeyRecord & { certificate: string }>> {
    const published = await this.store.listPublished(tenantId, this.clock.now());
    const withCertificates: Array<SigningKeyRecord & { certificate: string }> = [];
    for (const record of published) {
      let certificate = record.certificate ?? undefined;
      if (certificate === undefined) {
        const made = await selfSignedCertificate({
          alg: record.alg,
          kid: record.kid,
          publicJwk: record.publicJwk,
          privateJwk: JSON.parse(this.sealer.unseal(record.privateKeySealed)) as Record<string, unknown>,
          notBefore: record.createdAt,
          commonName,
        });
        certificate = await this.store.keepCertificate(tenantId, record.kid, made);
      }
      withCertificates.push({ ...record, certificate });
    }
    return withCertificates;
  }

  /**
   * Cached for at most KEY_CACHE_SECONDS: a retired key stays published for
   * exactly that much longer than its tokens can live, so a node (even one
   * idle for hours) must never sign with keys older than that.
   */
  private async keysFor(tenantId: string): Promise<TenantKeys> {
    const cached = this.cache.get(tenantId);
    if (cached && this.clock.now().getTime() - cached.loadedAt <= KEY_CACHE_SECONDS * 1000) return cached;
    return this.reload(tenantId);
  }

  private reload(tenantId: string): Promise<TenantKeys> {
    let pending = this.loading.get(tenantId);
    if (!pending) {
      pending = this.load(tenantId).finally(() => this.loading.delete(tenantId));
      this.loading.set(tenantId, pending);
    }
    return pending;
  }

  private async load(tenantId: string): Promise<TenantKeys> {
    const published = await this.store.listPublished(tenantId, this.clock.now());
    const keys: TenantKeys = { active: new Map(), verification: new Map(), loadedAt: this.clock.now().getTime() };
    for (const record of published) {
      keys.verification.set(record.kid, {
        alg: record.alg,
        publicKey: (await importJWK(record.publicJwk as JWK, record.alg)) as CryptoKey,
      });
      // Newest first: the first unretired key of an algorithm signs.
      if (record.retiredAt === null && !keys.active.has(record.alg)) {
        const privateJwk = JSON.parse(this.sealer.unseal(record.privateKeySealed)) as Record<string, unknown>;
        keys.active.set(record.alg, new JwtSigner(record.kid, record.alg, privateJwk));
      }
    }
    this.cache.set(tenantId, keys);
    return keys;
  }

  private async generate(tenantId: string, alg: SigningAlg): Promise<SigningKeyRecord> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
    const publicJwk = await exportJWK(publicKey);
    const privateJwk = await exportJWK(privateKey);
    return {
      kid: await calculateJwkThumbprint(publicJwk),
      tenantId,
      alg,
      publicJwk: publicJwk as Record<string, unknown>,
      privateKeySealed: this.sealer.seal(JSON.stringify(privateJwk)),
      createdAt: this.clock.now(),
      retiredAt: null,
      publishUntil: null,
    };
  }
}
