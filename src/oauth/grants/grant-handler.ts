/**
 * One interface for every grant (STYLE.md §1): `parse` turns parameters into
 * a typed request without I/O, `handle` decides and returns a `Grant` value
 * (domain/grant.ts). A grant module is built once with the services it uses
 * (fosite's per-handler Config); each request hands it only request facts.
 */
import type { Grant } from '../../domain/grant.js';
import type { GrantTypeName } from '../../domain/grant-types.js';
import type { Tenant } from '../../domain/tenant.js';
import type { AuthenticatedClient } from '../../domain/client.js';
import type { UserRecord } from '../../storage/stores.js';
import type { RequestParameters } from '../request-parameters.js';

/** What a grant knows of the request beyond its parameters: who asks, at which tenant, from where, when. */
export interface GrantContext {
  tenant: Tenant;
  client: AuthenticatedClient;
  /** Canonical end-user IP (protection/end-user-ip.ts), worked out on first call: only password checks need it. */
  endUserIp(): string;
  /** The request's instant, taken once client authentication passed. */
  now: Date;
}

/** What a grant decided, and, for a sign-in by password, the login attempt the MFA gate (oauth/mfa-gate.ts) settles. */
export interface GrantDecision {
  grant: Grant;
  passwordLogin?: PasswordLogin;
}

/**
 * A sign-in whose password was right and accepted by every policy but the
 * second factor's: its attempt is still open, so the brute-force counts and
 * the security event say what became of it once the gate has decided.
 */
export interface PasswordLogin {
  user: UserRecord;
  /** A second factor must follow (`enrollment`: the user has none yet). */
  secondFactorRequired(enrollment: boolean): Promise<void>;
  /** Tokens will be issued. */
  succeeded(): Promise<void>;
}

export interface GrantHandler<Request> {
  /** Wire names this module answers to (Auth0 URIs included), from domain/grant-types.ts. */
  readonly grantTypes: readonly GrantTypeName[];
  parse(params: RequestParameters, grantType: GrantTypeName): Request;
  handle(request: Request, ctx: GrantContext): Promise<GrantDecision>;
}

/** A grant whose request is parsed: it decides once given the request's facts. */
export type PreparedGrant = (ctx: GrantContext) => Promise<GrantDecision>;
