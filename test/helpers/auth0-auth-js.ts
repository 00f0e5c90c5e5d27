/**
 * Helpers for driving Latchkey with Auth0's @auth0/auth0-auth-js SDK
 * (test/sdk/auth0-auth-js-mfa.test.ts): the SDK's `AuthClient` over the
 * trusting fetch, the error an SDK call throws, and TOTP codes at the
 * server's test clock.
 */
import assert from 'node:assert/strict';
import { AuthClient } from '@auth0/auth0-auth-js';
import { Secret, TOTP } from 'otpauth';
import type { TestServer } from './server.js';
import type { HttpsTestServer } from './tls.js';

const STEP_MS = 30_000;

/**
 * An AuthClient for tenant `acme` of `https`. The SDK derives everything
 * from `domain`: discovery at `https://{domain}` + `.well-known/openid-configuration`
 * (openid-client, whose issuer check compares `new URL('https://{domain}').href`
 * with the discovered issuer), and the MFA API as `https://{domain}/mfa/...`.
 * Latchkey's issuer is `{public_url}/acme/`, so the domain needs the trailing
 * slash; the MFA URLs then read `/acme//mfa/...`.
 * TLS trust goes through the SDK's own `customFetch` option.
 */
export function auth0AuthClient(
  https: HttpsTestServer,
  client: { client_id: string; client_secret: string },
  domain = `${https.host}/acme/`,
): AuthClient {
  return new AuthClient({ domain, clientId: client.client_id, clientSecret: client.client_secret, customFetch: https.fetch });
}

/** What an SDK call threw, asserted to be an instance of `type`. */
export async function sdkError<E extends Error>(call: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await call;
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  assert.fail(`expected the SDK call to fail with ${type.name}`);
}

/** The TOTP code of `secret` at the server clock, `steps` 30-second steps away. */
export function totpAt(server: TestServer, secret: string, steps = 0): string {
  return new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: server.clock.now().getTime() + steps * STEP_MS });
}

/**
 * Moves the server clock back to one second into its current TOTP step, so
 * steps -1, 0 and +1 all stay accepted for ~29 s of real time, without
 * putting the server ahead of the SDK's own clock (id_token checks).
 */
export function alignClockToStepStart(server: TestServer): void {
  const into = server.clock.now().getTime() % STEP_MS;
  server.clock.advance(-(into - 1000) / 1000);
}
