/**
 * Verifies access tokens this server issued (for userinfo, revocation and
 * introspection): our keys only, algorithms pinned, `typ: at+jwt` required.
 */
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../clock.js';
import { SIGNING_ALGS } from '../config/schema.js';
import type { Tenant } from '../domain/tenant.js';
import type { AccessTokenDenylist } from '../storage/stores.js';
import type { SigningKeys } from './signing-keys.js';

export type AccessTokenCheck =
  | { valid: true; payload: JWTPayload & { sub: string; exp: number; jti: string; client_id: string } }
  | { valid: false; reason: string };

export class AccessTokenVerifier {
  constructor(
    private readonly signingKeys: SigningKeys,
    private readonly denylist: AccessTokenDenylist,
    private readonly clock: Clock,
  ) {}

  /** Signature, issuer, type and lifetime only; `checkRevocation` adds the denylist. */
  async verify(token: string, tenant: Tenant, options: { checkRevocation: boolean }): Promise<AccessTokenCheck> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      return { valid: false, reason: 'not a JWT' };
    }
    if (kid === undefined) return { valid: false, reason: 'no kid' };
    const key = await this.signingKeys.verificationKey(tenant.id, kid);
    if (!key) return { valid: false, reason: 'unknown signing key' };
    try {
      const { payload } = await jwtVerify(token, key.publicKey, {
        algorithms: [key.alg].filter((a) => (SIGNING_ALGS as readonly string[]).includes(a)),
        issuer: tenant.endpoints.issuer,
        typ: 'at+jwt',
        currentDate: this.clock.now(),
        requiredClaims: ['sub', 'exp', 'jti', 'client_id'],
      });
      const typed = payload as JWTPayload & { sub: string; exp: number; jti: string; client_id: string };
      // DESIGN.md §9: a removed application's tokens are refused (the file stopped declaring it).
      if (!tenant.applications.has(typed.client_id)) return { valid: false, reason: 'application no longer served' };
      if (options.checkRevocation && (await this.denylist.isRevoked(typed.jti))) return { valid: false, reason: 'revoked' };
      return { valid: true, payload: typed };
    } catch (err) {
      return { valid: false, reason: (err as { code?: string }).code ?? 'invalid' };
    }
  }
}
