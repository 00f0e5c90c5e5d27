/**
 * Verifying what the server issued, the way a relying party would: the
 * tenant's published JWKS, fetched over HTTP, and jose.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { get } from './http.js';
import type { TestServer } from './server.js';

export async function fetchJwks(server: TestServer, tenant = 'acme'): Promise<JSONWebKeySet> {
  const res = await get(`${server.issuer(tenant)}.well-known/jwks.json`);
  if (res.status !== 200 || !Array.isArray(res.body.keys)) throw new Error(`JWKS fetch failed: ${res.status} ${res.text}`);
  return res.body as unknown as JSONWebKeySet;
}

export async function tenantKeys(server: TestServer, tenant = 'acme'): Promise<JWTVerifyGetKey> {
  return createLocalJWKSet(await fetchJwks(server, tenant));
}

/** Verifies a token against the tenant's published keys; resolves to its claims and header. */
export async function verifyIssued(
  server: TestServer,
  token: unknown,
  options: JWTVerifyOptions,
  tenant = 'acme',
): Promise<{ payload: JWTPayload; alg: string; kid: string | undefined; typ: string | undefined }> {
  if (typeof token !== 'string') throw new Error(`expected a token string, got ${JSON.stringify(token)}`);
  const { payload, protectedHeader } = await jwtVerify(token, await tenantKeys(server, tenant), {
    issuer: server.issuer(tenant),
    ...options,
  });
  return { payload, alg: protectedHeader.alg, kid: protectedHeader.kid, typ: protectedHeader.typ };
}

/** `aud` as a list, whether the token carries one audience or several. */
export function audiences(payload: JWTPayload): string[] {
  return payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
}

/** A space-delimited scope string as a sorted list, for order-free comparison. */
export function scopeList(scope: unknown): string[] {
  if (typeof scope !== 'string') throw new Error(`expected a scope string, got ${JSON.stringify(scope)}`);
  return scope
    .split(' ')
    .filter((s) => s !== '')
    .sort();
}
