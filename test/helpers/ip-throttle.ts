/**
 * Shared helpers for the end-user IP, IP-throttling and rate-limit suites:
 * a trusted backend application, password attempts (from any loopback
 * address, with any headers), and the security events and warnings the
 * server logged. Plain HTTP only.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { acmeFixture, clientGrantsForEveryApi } from './fixtures.js';
import { postForm, type JsonResponse } from './http.js';
import type { TenantInput, TestServer } from './server.js';

/** A confidential backend whose forwarded end-user IP is trusted. */
export const BACKEND = { client_id: 'acme-backend', client_secret: 'backend secret 1' };
/** The same kind of backend without trust_forwarded_for. */
export const UNTRUSTED_BACKEND = { client_id: 'acme-untrusted-backend', client_secret: 'untrusted backend secret 1' };

type ApplicationInput = NonNullable<TenantInput['applications']>[number];

export const BACKEND_APP: ApplicationInput = {
  ...BACKEND,
  token_endpoint_auth_method: 'client_secret_post',
  grant_types: ['password', 'refresh_token', 'client_credentials'],
  trust_forwarded_for: true,
};

export const UNTRUSTED_BACKEND_APP: ApplicationInput = {
  ...UNTRUSTED_BACKEND,
  token_endpoint_auth_method: 'client_secret_post',
  grant_types: ['password', 'refresh_token', 'client_credentials'],
};

/** acme plus the two backends, with `extra` keys (attack_protection, rate_limits, trusted_proxies …) on top. */
export async function acmeWith(extra: Partial<TenantInput> = {}, applications: ApplicationInput[] = []): Promise<TenantInput> {
  const { tenant } = await acmeFixture();
  const allApplications = [...(tenant.applications ?? []), BACKEND_APP, UNTRUSTED_BACKEND_APP, ...applications];
  return {
    ...tenant,
    applications: allApplications,
    client_grants: clientGrantsForEveryApi({ apis: tenant.apis, applications: allApplications }),
    ...extra,
  };
}

export interface Client {
  client_id: string;
  client_secret?: string;
}

function clientParams(client: Client): Record<string, string> {
  return client.client_secret === undefined
    ? { client_id: client.client_id }
    : { client_id: client.client_id, client_secret: client.client_secret };
}

let unique = 0;
/** A username no other attempt in the run uses (unknown users count like known ones). */
export function freshUsername(): string {
  unique += 1;
  return `nobody-${unique}-${process.pid}@acme.test`;
}

/** A password grant; `from` makes the TCP connection from that loopback address (127.0.0.0/8). */
export async function passwordAttempt(
  server: TestServer,
  client: Client,
  user: { username: string; password: string },
  headers: Record<string, string> = {},
  from?: string,
): Promise<JsonResponse> {
  const params = { grant_type: 'password', username: user.username, password: user.password, ...clientParams(client) };
  if (from === undefined) return postForm(server.at('/oauth/token'), params, headers);
  return postFormFrom(server.at('/oauth/token'), params, headers, from);
}

/** A failed login under a fresh username; asserts it was judged (invalid_grant), not refused before the check. */
export async function failedLogin(
  server: TestServer,
  client: Client,
  headers: Record<string, string> = {},
  from?: string,
): Promise<JsonResponse> {
  const res = await passwordAttempt(server, client, { username: freshUsername(), password: 'wrong password 0' }, headers, from);
  assert.equal(res.status, 400, `expected a judged failure (invalid_grant): ${res.text}`);
  assert.equal(res.body.error, 'invalid_grant', res.text);
  return res;
}

/** POST a form over node:http, bound to a local address, so the server sees that TCP peer. */
export async function postFormFrom(
  url: string,
  params: Record<string, string>,
  headers: Record<string, string>,
  localAddress: string,
): Promise<JsonResponse> {
  const body = new URLSearchParams(params).toString();
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            /* not JSON */
          }
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(name, v);
          }
          resolve({ status: res.statusCode ?? 0, headers: responseHeaders, body: json, text });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Asserts a 429 too_many_attempts with this error_reason and a Retry-After of whole seconds; returns Retry-After. */
export function assertTooMany(
  res: JsonResponse,
  errorReason: 'ip_blocked' | 'rate_limited' | 'user_blocked' | 'new_locations_paused',
): number {
  assert.equal(res.status, 429, res.text);
  assert.equal(res.body.error, 'too_many_attempts', res.text);
  assert.equal(res.body.error_reason, errorReason, res.text);
  const retryAfter = res.headers.get('retry-after');
  assert.match(retryAfter ?? '', /^[1-9][0-9]*$/, `Retry-After: ${String(retryAfter)}`);
  return Number(retryAfter);
}

/** Signed in: 200 with an access token. */
export function assertSignedIn(res: JsonResponse, what: string): void {
  assert.equal(res.status, 200, `${what}: ${res.text}`);
  assert.equal(typeof res.body.access_token, 'string', `${what}: an access token`);
}

/** Reached the password check and was refused: 400 invalid_grant, never 429. */
export function assertWrongPassword(res: JsonResponse, what: string): void {
  assert.equal(res.status, 400, `${what}: ${res.text}`);
  assert.equal(res.body.error, 'invalid_grant', `${what}: ${res.text}`);
}

/** Asserts the request got past every throttle (whatever else happened to it). */
export function assertNotThrottled(res: JsonResponse, message?: string): void {
  assert.notEqual(res.status, 429, `${message ?? 'throttled'}: ${res.text}`);
}

export type LogLine = Record<string, unknown>;

export function logLines(server: TestServer): LogLine[] {
  return server.logs.map((l) => JSON.parse(l) as LogLine);
}

/** Security events of one type the server logged, in order. */
export function securityEvents(server: TestServer, type: string): LogLine[] {
  return logLines(server).filter((l) => l.security_event === type);
}

/** The `ip` of every login_failure event, in order. */
export function failureIps(server: TestServer): unknown[] {
  return securityEvents(server, 'login_failure').map((e) => e.ip);
}

/** Warnings about an ignored forwarded end-user IP. */
export function ignoredForwardWarnings(server: TestServer): LogLine[] {
  return logLines(server).filter((l) => typeof l.msg === 'string' && l.msg.includes('ignored a forwarded end-user IP'));
}

/** Moves the test clock to `hours` past the next UTC midnight (the IP throttle's days are UTC days); returns that instant. */
export function advanceToNextDay(server: TestServer, hours: number): number {
  const DAY_MS = 86_400_000;
  const now = server.clock.now().getTime();
  const target = (Math.floor(now / DAY_MS) + 1) * DAY_MS + hours * 3_600_000;
  server.clock.advance((target - now) / 1000);
  return target;
}
