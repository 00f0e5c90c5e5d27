/**
 * A self-signed X.509 certificate over a signing key, for what Auth0's
 * Management API answers as a signing key's `cert` (`GET /keys/signing`,
 * DESIGN.md §9): tools that pin Auth0's certificate, or read a key from it
 * (SAML-era libraries, `openssl x509`), get a real one. Latchkey's keys are
 * JWKs: the certificate adds nothing to trust, it is only the container
 * those tools expect, signed by the key itself.
 *
 * Made with @peculiar/x509 (docs/decisions.md), which needs the Reflect
 * metadata polyfill loaded before it.
 */
import 'reflect-metadata';
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { SigningAlg } from '../config/schema.js';

/** Auth0's signing certificates run for years; a key leaves the JWKS long before this. */
const VALIDITY_YEARS = 10;

const WEBCRYPTO: Record<
  SigningAlg,
  {
    key: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm;
    sign: webcrypto.Algorithm | webcrypto.EcdsaParams;
  }
> = {
  RS256: {
    key: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.Algorithm,
  },
  ES256: { key: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  EdDSA: { key: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

export interface CertificateInput {
  alg: SigningAlg;
  kid: string;
  publicJwk: Record<string, unknown>;
  privateJwk: Record<string, unknown>;
  /** From when the certificate is valid: the key's creation. */
  notBefore: Date;
  /** The subject and issuer common name (the tenant's issuer). */
  commonName: string;
}

/** The certificate as PEM. */
export async function selfSignedCertificate(input: CertificateInput): Promise<string> {
  const { key, sign } = WEBCRYPTO[input.alg];
  const subtle = webcrypto.subtle;
  const privateKey = await subtle.importKey('jwk', input.privateJwk as webcrypto.JsonWebKey, key, false, ['sign']);
  const publicKey = await subtle.importKey('jwk', withoutKid(input.publicJwk), key, true, ['verify']);
  const notAfter = new Date(input.notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALIDITY_YEARS);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      // RFC 5280 §4.1.2.2: positive, at most 20 octets; from the kid, so the same key always gets the same serial.
      serialNumber: `01${createHash('sha256').update(input.kid).digest('hex').slice(0, 30)}`,
      name: [{ CN: [input.commonName] }],
      notBefore: input.notBefore,
      notAfter,
      signingAlgorithm: sign,
      keys: { privateKey, publicKey },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ],
    },
    // The library's default provider is the global Web Crypto (node:crypto's webcrypto).
  );
  return certificate.toString('pem');
}

export interface CertificateDigests {
  /** Auth0's `fingerprint`: SHA-1 of the DER certificate, upper-case hex pairs joined by colons. */
  fingerprint: string;
  /** Auth0's `thumbprint`: the same SHA-1 as bare upper-case hex. */
  thumbprint: string;
  /** The certificate in a PKCS #7 (CMS signed-data) container, PEM: Auth0's `pkcs7`. */
  pkcs7: string;
}

export function certificateDigests(pem: string): CertificateDigests {
  const certificate = new X509Certificate(pem);
  const fingerprint = certificate.fingerprint;
  const pkcs7 = x509.PemConverter.encode(new x509.X509Certificates([new x509.X509Certificate(pem)]).export('raw'), 'PKCS7');
  return { fingerprint, thumbprint: fingerprint.replaceAll(':', ''), pkcs7 };
}

function withoutKid(jwk: Record<string, unknown>): webcrypto.JsonWebKey {
  const { kid: _kid, alg: _alg, use: _use, ...rest } = jwk;
  return rest as webcrypto.JsonWebKey;
}
