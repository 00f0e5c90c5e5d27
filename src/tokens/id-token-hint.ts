/**
 * Verifies the `id_token_hint` of an RP-initiated logout (OpenID Connect
 * RP-Initiated Logout 1.0 §2): an id_token this tenant signed, our keys only,
 * the algorithm pinned to the key's (as access-token-verifier.ts does),
 * `typ: JWT` and the issuer exact.
 *
 * Its lifetime is not checked. §2: "When an id_token_hint parameter is
 * present, the OP MUST validate that it was the issuer of the ID Token. The
 * OP SHOULD accept ID Tokens when the RP identified by the ID Token's aud
 * claim and/or sid claim has a current session or had a recent session at
 * the OP, even when the exp time has passed." An application signs out long
 * after its id_token expired; the signature is what is trusted. So jose's
 * `compactVerify` checks the signature and the claims are checked here,
 * with no clock. A hint older than its signing key's publication (a retired
 * key leaves the JWKS once its tokens have expired, signing-keys.ts) is no
 * longer ours to vouch for: the logout then asks the person.
 */
import { compactVerify, decodeProtectedHeader } from 'jose';
import { SIGNING_ALGS } from '../config/schema.js';
import type { Tenant } from '../domain/tenant.js';
import type { SigningKeys } from './signing-keys.js';

/** Longer than any id_token this server signs, with hook claims; anything longer is not ours. */
const MAX_HINT_LENGTH = 16_384;

export type IdTokenHintCheck =
  /** Signed by this tenant for `clientId` (its `aud`), about `subject`. */
  | { valid: true; subject: string; clientId: string; sessionId: string | undefined }
  /** Not a hint this tenant can vouch for; `reason` is for the log only. */
  | { valid: false; reason: string };

export class IdTokenHintVerifier {
  constructor(private readonly signingKeys: SigningKeys) {}

  async verify(hint: string, tenant: Tenant): Promise<IdTokenHintCheck> {
    if (hint.length > MAX_HINT_LENGTH) return { valid: false, reason: 'too long' };
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(hint);
    } catch {
      return { valid: false, reason: 'not a JWT' };
    }
    if (header.kid === undefined) return { valid: false, reason: 'no kid' };
    // OIDC Core §2 and our signer (tokens/jwt-signer.ts): an id_token is `typ: JWT`; an access token (`at+jwt`) is no hint.
    if (header.typ !== 'JWT') return { valid: false, reason: `typ ${String(header.typ).slice(0, 32)}` };
    const key = await this.signingKeys.verificationKey(tenant.id, header.kid);
    if (!key) return { valid: false, reason: 'unknown signing key' };
    let claims: Record<string, unknown>;
    try {
      const { payload } = await compactVerify(hint, key.publicKey, {
        algorithms: [key.alg].filter((a) => (SIGNING_ALGS as readonly string[]).includes(a)),
      });
      const parsed = JSON.parse(new TextDecoder().decode(payload)) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { valid: false, reason: 'payload not an object' };
      claims = parsed as Record<string, unknown>;
    } catch (err) {
      return { valid: false, reason: (err as { code?: string }).code ?? 'invalid' };
    }
    if (claims.iss !== tenant.endpoints.issuer) return { valid: false, reason: 'issuer' };
    if (typeof claims.sub !== 'string' || claims.sub === '') return { valid: false, reason: 'no sub' };
    // Our id_tokens name exactly one audience, the client (tokens/token-service.ts); OIDC Core §2 allows an array of one.
    const aud = Array.isArray(claims.aud) && claims.aud.length === 1 ? claims.aud[0] : claims.aud;
    if (typeof aud !== 'string' || aud === '') return { valid: false, reason: 'aud is not one client' };
    // DESIGN.md §9: a removed application's tokens are refused (the file stopped declaring it).
    if (!tenant.applications.has(aud)) return { valid: false, reason: 'application no longer served' };
    return { valid: true, subject: claims.sub, clientId: aud, sessionId: typeof claims.sid === 'string' ? claims.sid : undefined };
  }
}
