/**
 * Assertions on token endpoint responses and client assertions (RFC 7523)
 * built the way a client library builds them.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import type { JsonResponse } from './http.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * RFC 6749 §5.2: an error response with this status and `error` code, a
 * description, and `Cache-Control: no-store` (DESIGN.md §4).
 */
export function assertOAuthError(res: JsonResponse, status: number, error: string, message = ''): void {
  const context = `${message ? `${message}: ` : ''}${res.status} ${res.text}`;
  assert.equal(res.status, status, context);
  assert.equal(res.body.error, error, context);
  assert.equal(typeof res.body.error_description, 'string', context);
  assert.equal(res.body.access_token, undefined, context);
  assert.equal(res.headers.get('cache-control'), 'no-store', context);
}

/** A 200 token response with a Bearer access token. */
export function assertTokenResponse(res: JsonResponse, message = ''): string {
  const context = `${message ? `${message}: ` : ''}${res.status} ${res.text}`;
  assert.equal(res.status, 200, context);
  assert.equal(res.body.token_type, 'Bearer', context);
  assert.equal(typeof res.body.access_token, 'string', context);
  assert.equal(res.headers.get('cache-control'), 'no-store', context);
  return res.body.access_token as string;
}

/** Claims of an assertion; a claim set to `undefined` is left out of the JWT. */
export type AssertionClaims = { [claim: string]: unknown };

export interface AssertionOptions {
  key: CryptoKey;
  /** The header's `kid`; `undefined` leaves it out. */
  kid: string | undefined;
  alg?: string;
}

export const epoch = (date: Date): number => Math.floor(date.getTime() / 1000);

/** Default RFC 7523 §3 claims for `clientId` at `now`, with `overrides` applied. */
export function assertionClaims(clientId: string, aud: string, now: Date, overrides: AssertionClaims = {}): JWTPayload {
  const iat = epoch(now);
  const claims: AssertionClaims = { iss: clientId, sub: clientId, aud, jti: randomUUID(), iat, exp: iat + 60, ...overrides };
  for (const name of Object.keys(claims)) if (claims[name] === undefined) delete claims[name];
  return claims as JWTPayload;
}

export async function signAssertion(claims: JWTPayload, options: AssertionOptions): Promise<string> {
  const header = options.kid === undefined ? { alg: options.alg ?? 'ES256' } : { alg: options.alg ?? 'ES256', kid: options.kid };
  return new SignJWT(claims).setProtectedHeader(header).sign(options.key);
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsecured JWT (`alg: none`), built by hand: jose refuses to make one. */
export function unsecuredJwt(claims: JWTPayload, kid?: string): string {
  return `${b64url(kid === undefined ? { alg: 'none' } : { alg: 'none', kid })}.${b64url(claims)}.`;
}

/** An HS256 JWT keyed with `secret`, built by hand (the classic public-key-as-HMAC-secret confusion). */
export function hs256Jwt(claims: JWTPayload, secret: string, kid?: string): string {
  const input = `${b64url(kid === undefined ? { alg: 'HS256' } : { alg: 'HS256', kid })}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}
