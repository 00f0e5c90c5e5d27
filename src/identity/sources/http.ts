/**
 * A custom credential validator (`type: http` connections), PingFederate's
 * pluggable password credential validator over HTTP: Latchkey POSTs the
 * credentials as JSON to the configured URL, signed with HMAC-SHA256 over
 * `{timestamp}.{body}` under the connection's shared secret, and waits at
 * most `timeout_ms`. The validator answers 200 with
 * `{"valid": true, "user": {email?, email_verified?, name?, given_name?, family_name?}}`
 * or `{"valid": false, "reason"?: "password_expired" | "password_change_required" | "account_locked" | …}`.
 * A valid user is provisioned locally at the first login and refreshed at
 * each (so refresh tokens, blocks and MFA work). Anything else (no answer,
 * a timeout, another status, a malformed body) is 503, never invalid_grant,
 * and no answer is ever cached.
 */
import { createHmac } from 'node:crypto';
import { Agent, fetch, type Dispatcher, type Response } from 'undici';
import type { Clock } from '../../clock.js';
import { TemporarilyUnavailableError } from '../../domain/errors.js';
import type { UserStore } from '../../storage/stores.js';
import type { CredentialResult, CredentialSource, DirectoryRefusal } from '../credential-source.js';
import { describeError } from '../../observability/error-text.js';
import { readTrustedCa } from './trusted-ca.js';

export const TIMESTAMP_HEADER = 'x-latchkey-timestamp';
export const SIGNATURE_HEADER = 'x-latchkey-signature';

/** `v1=` + hex HMAC-SHA256 of `{timestamp}.{body}`: what a validator recomputes and compares in constant time. */
export function validatorSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

const REFUSALS = new Set<DirectoryRefusal>(['password_expired', 'password_change_required', 'account_locked']);
const PROFILE_LIMIT = 256;

export class HttpCredentialSource implements CredentialSource {
  readonly type = 'http';

  /**
   * `validators`: connection id → its shared secret (from the configuration, never stored) and,
   * with `tls_ca`, a dispatcher that trusts exactly that CA.
   */
  constructor(
    private readonly validators: ReadonlyMap<string, { secret: string; dispatcher: Dispatcher | undefined }>,
    private readonly users: UserStore,
    private readonly clock: Clock,
  ) {}

  async verify(input: Parameters<CredentialSource['verify']>[0]): Promise<CredentialResult> {
    const { connection } = input;
    const settings = this.validators.get(connection.id);
    if (!connection.validator || settings === undefined) throw new Error(`connection ${connection.name} has no validator url or secret`);
    const body = JSON.stringify({
      username: input.username,
      password: input.password,
      connection: connection.name,
      client_id: input.clientId,
      ip: input.ip,
    });
    const timestamp = String(Math.floor(this.clock.now().getTime() / 1000));
    const unavailable = (why: string) =>
      new TemporarilyUnavailableError('The user directory did not answer; retry shortly.', 5, {
        errorReason: 'directory_unavailable',
        logDetail: `credential validator of connection ${connection.name} (${connection.validator?.url}): ${why}`,
      });

    let response: Response;
    try {
      response = await fetch(connection.validator.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: validatorSignature(settings.secret, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(connection.validator.timeoutMs),
        redirect: 'error',
        ...(settings.dispatcher === undefined ? {} : { dispatcher: settings.dispatcher }),
      });
    } catch (err) {
      const name = (err as Error).name;
      throw unavailable(
        name === 'TimeoutError'
          ? `no answer within ${connection.validator.timeoutMs} ms (timeout_ms)`
          : `unreachable (${describeError(err)})`,
      );
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw unavailable(`answered HTTP ${response.status}${response.status === 401 ? ': does it use the same secret?' : ''}`);
    }
    let answer: unknown;
    try {
      answer = await response.json();
    } catch {
      throw unavailable('answered with a body that is not JSON');
    }
    if (typeof answer !== 'object' || answer === null || typeof (answer as { valid?: unknown }).valid !== 'boolean') {
      throw unavailable('answered without a boolean "valid"');
    }
    const { valid, reason, user: profile } = answer as { valid: boolean; reason?: unknown; user?: unknown };
    if (!valid && !(typeof reason === 'string' && REFUSALS.has(reason as DirectoryRefusal))) {
      return { outcome: 'rejected', reason: reason === 'unknown_user' ? 'unknown_user' : 'wrong_password' };
    }
    const user = await this.users.provisionExternal({
      tenantId: input.tenantId,
      connectionId: connection.id,
      username: input.username,
      ...profileOf(profile),
    });
    if (!valid) return { outcome: 'refused', reason: reason as DirectoryRefusal, user };
    return { outcome: 'verified', user };
  }
}

/** Only the claims Latchkey knows, as bounded strings and booleans: the validator's answer is input too. */
function profileOf(raw: unknown): { email?: string; emailVerified?: boolean; name?: string; givenName?: string; familyName?: string } {
  if (typeof raw !== 'object' || raw === null) return {};
  const r = raw as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= PROFILE_LIMIT ? v : undefined);
  const out: { email?: string; emailVerified?: boolean; name?: string; givenName?: string; familyName?: string } = {};
  const email = text(r.email);
  if (email !== undefined && /^[^\s@]+@[^\s@]+$/.test(email)) out.email = email;
  if (typeof r.email_verified === 'boolean') out.emailVerified = r.email_verified;
  const name = text(r.name);
  if (name !== undefined) out.name = name;
  const given = text(r.given_name);
  if (given !== undefined) out.givenName = given;
  const family = text(r.family_name);
  if (family !== undefined) out.familyName = family;
  return out;
}

/** A dispatcher that trusts exactly the CA(s) in `caFile` (a private CA for the validator's certificate). */
export function trustingOnly(caFile: string, connectionName: string): Dispatcher {
  return new Agent({ connect: { ca: readTrustedCa(caFile, connectionName) } });
}
