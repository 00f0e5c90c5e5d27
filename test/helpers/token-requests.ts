/**
 * Token-endpoint, revocation and introspection requests the refresh,
 * revocation, introspection and userinfo suites share. Plain HTTP only: the
 * suites see exactly what a client sees.
 */
import assert from 'node:assert/strict';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { get, postForm, toJson, type JsonResponse } from './http.js';
import type { TestServer } from './server.js';

/** A fixture application: public clients have no secret. */
export interface ClientCredentials {
  client_id: string;
  client_secret?: string;
}

export interface UserCredentials {
  username: string;
  password: string;
}

function clientParams(client: ClientCredentials): Record<string, string> {
  return client.client_secret === undefined
    ? { client_id: client.client_id }
    : { client_id: client.client_id, client_secret: client.client_secret };
}

/** RFC 6749 §4.3.2 password grant; asserts success. */
export async function passwordTokens(
  server: TestServer,
  client: ClientCredentials,
  user: UserCredentials,
  extra: Record<string, string> = {},
): Promise<JsonResponse> {
  const res = await postForm(server.at('/oauth/token'), {
    grant_type: 'password',
    username: user.username,
    password: user.password,
    ...extra,
    ...clientParams(client),
  });
  assert.equal(res.status, 200, `password grant failed: ${res.text}`);
  return res;
}

/** RFC 6749 §6 refresh request; returns whatever the server answers. */
export async function refresh(
  server: TestServer,
  client: ClientCredentials,
  refreshToken: string,
  extra: Record<string, string> = {},
): Promise<JsonResponse> {
  return postForm(server.at('/oauth/token'), {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    ...extra,
    ...clientParams(client),
  });
}

/** RFC 7009 §2.1 revocation request. */
export async function revokeToken(
  server: TestServer,
  client: ClientCredentials,
  token: string,
  extra: Record<string, string> = {},
): Promise<JsonResponse> {
  return postForm(server.at('/oauth/revoke'), { token, ...extra, ...clientParams(client) });
}

/** RFC 7662 §2.1 introspection request. */
export async function introspectToken(
  server: TestServer,
  client: ClientCredentials,
  token: string,
  extra: Record<string, string> = {},
): Promise<JsonResponse> {
  return postForm(server.at('/oauth/introspect'), { token, ...extra, ...clientParams(client) });
}

/** A string member of a JSON body, asserted present. */
export function member(res: JsonResponse, name: string): string {
  const value = res.body[name];
  assert.equal(typeof value, 'string', `expected "${name}" in ${res.text}`);
  return value as string;
}

/** Asserts an RFC 6749 §5.2 error response. */
export function assertOAuthError(res: JsonResponse, status: number, error: string, message?: string): void {
  const context = message === undefined ? res.text : `${message}: ${res.text}`;
  assert.equal(res.status, status, context);
  assert.equal(res.body.error, error, context);
}

/** The tenant's published keys, for verifying what the server signed. */
export async function tenantKeys(server: TestServer, tenant = 'acme'): Promise<ReturnType<typeof createLocalJWKSet>> {
  const res = await get(`${server.issuer(tenant)}.well-known/jwks.json`);
  assert.equal(res.status, 200, res.text);
  return createLocalJWKSet(res.body as unknown as JSONWebKeySet);
}

/** A POST with headers only and no body at all (no Content-Type), as OIDC clients send to userinfo. */
export async function postWithoutBody(url: string, headers: Record<string, string>): Promise<JsonResponse> {
  return toJson(await fetch(url, { method: 'POST', headers }));
}
