/**
 * Signs the JWTs this server issues (access tokens, id_tokens) as JWS
 * Compact Serialization (RFC 7515 §7.1) with node:crypto's one-shot `sign`,
 * a KeyObject imported once per key, and each protected header encoded once.
 *
 * Why not jose's `SignJWT` on this path (docs/decisions.md, issue #13): on
 * Node, jose signs through WebCrypto, which dispatches every signature as an
 * asynchronous job to the libuv pool; measured on this machine the
 * synchronous OpenSSL call makes about 1.4× as many RS256 signatures per
 * CPU-second, and signing is most of a refresh or client_credentials request.
 * jose stays for everything else: key generation, JWK import and export,
 * thumbprints and every verification.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { SigningAlg } from '../config/schema.js';

/** The `typ` header values this server signs with: RFC 9068 §2.1 for access tokens, OIDC Core for id_tokens. */
export type JwtType = 'at+jwt' | 'JWT';

/** RFC 7518 §3.1 and RFC 8037 §3.1: the digest and signature format each `alg` names, and where it is computed. */
interface AlgorithmProfile {
  /** The digest node:crypto applies before signing; null for EdDSA, which hashes internally. */
  readonly digest: 'sha256' | null;
  /** ECDSA signatures in a JWS are r‖s (RFC 7518 §3.4), not DER. */
  readonly dsaEncoding: 'ieee-p1363' | undefined;
  /**
   * Sign on the libuv pool rather than the event loop. An RSA-2048 signature
   * takes about 0.3 ms: on the event loop it would hold every other request
   * back and leave the second core idle, and handing it to the pool costs
   * about a tenth of that. ECDSA and EdDSA signatures take about 30 µs, about
   * what the hand-off itself costs, so they are made in place (BENCHMARKS.md,
   * issue #13).
   */
  readonly onPool: boolean;
}

const PROFILES: Readonly<Record<SigningAlg, AlgorithmProfile>> = {
  RS256: { digest: 'sha256', dsaEncoding: undefined, onPool: true },
  ES256: { digest: 'sha256', dsaEncoding: 'ieee-p1363', onPool: false },
  EdDSA: { digest: null, dsaEncoding: undefined, onPool: false },
};

/** One signing key, ready to sign: the KeyObject and the encoded headers are made once. */
export class JwtSigner {
  private readonly key: KeyObject;
  private readonly profile: AlgorithmProfile;
  private readonly encodedHeaders: Readonly<Record<JwtType, string>>;

  /** `privateJwk` is the key as stored (sealed at rest); it is imported here and not kept. */
  constructor(
    readonly kid: string,
    readonly alg: SigningAlg,
    privateJwk: Record<string, unknown>,
  ) {
    this.key = createPrivateKey({ key: privateJwk, format: 'jwk' });
    this.profile = PROFILES[alg];
    // Member order as jose writes it, so tokens look the same as before.
    const header = (typ: JwtType) => base64url(JSON.stringify({ alg, typ, kid }));
    this.encodedHeaders = { 'at+jwt': header('at+jwt'), JWT: header('JWT') };
  }

  /** RFC 7515 §7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature). */
  sign(typ: JwtType, claims: object): Promise<string> {
    const signingInput = `${this.encodedHeaders[typ]}.${base64url(JSON.stringify(claims))}`;
    const { digest, dsaEncoding, onPool } = this.profile;
    const key = dsaEncoding === undefined ? this.key : { key: this.key, dsaEncoding };
    const data = Buffer.from(signingInput);
    const compact = (signature: Buffer) => `${signingInput}.${signature.toString('base64url')}`;
    if (!onPool) return Promise.resolve(compact(sign(digest, data, key)));
    // node:crypto's callback form runs the same OpenSSL call on the libuv pool (without WebCrypto's wrapping).
    return new Promise((resolve, reject) => {
      sign(digest, data, key, (error, signature) => (error ? reject(error) : resolve(compact(signature))));
    });
  }
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
