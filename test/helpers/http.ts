/** Small HTTP helpers over fetch: tests see exactly what a client sees. */
import assert from 'node:assert/strict';

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

export async function toJson(response: Response): Promise<JsonResponse> {
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON: tests assert on `text` */
  }
  return { status: response.status, headers: response.headers, body, text };
}

export async function postForm(url: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return toJson(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(params).toString(),
    }),
  );
}

export async function postRaw(url: string, body: string, headers: Record<string, string>): Promise<JsonResponse> {
  return toJson(await fetch(url, { method: 'POST', headers, body }));
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return toJson(
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }),
  );
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return toJson(await fetch(url, { headers }));
}

export function basic(clientId: string, secret: string): Record<string, string> {
  // RFC 6749 §2.3.1: each part form-urlencoded before base64.
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return { authorization: `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}` };
}

/** Decodes a JWT's header and payload without verifying (tests verify separately with jose). */
export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}

/** Status and, when given, the OAuth `error` code, with the body in the message. */
export function assertStatus(res: JsonResponse, status: number, error: string | undefined, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.text}`);
  if (error !== undefined) assert.equal(res.body.error, error, `${what}: ${res.text}`);
}
