/**
 * What a grant decided (STYLE.md principle 2): the value a grant module
 * returns and the token service acts on. Nothing is signed or stored until
 * then, so a refused request leaves nothing behind.
 */
import type { ApiConfig } from '../config/schema.js';
import type { RefreshTokenFamily, UserRecord } from '../storage/stores.js';

export type GrantSubject = { kind: 'user'; user: UserRecord } | { kind: 'client' };

export type RefreshPlan =
  | { kind: 'none' }
  /** `familyId` when the grant chose it beforehand, to record what it issues (an authorization code's redemption). */
  | { kind: 'new_family'; familyId?: string }
  | { kind: 'rotate'; family: RefreshTokenFamily; presentedHash: string }
  /** The token was rotated moments ago inside the reuse interval: return the token that replaced it. */
  | { kind: 'replay'; childToken: string };

export interface Grant {
  grantType: string;
  subject: GrantSubject;
  api: ApiConfig | undefined;
  scopes: string[];
  /** What the client asked for, to decide whether the response must show `scope`. */
  requestedScopes: string[] | undefined;
  authTime: Date;
  refresh: RefreshPlan;
  /** RFC 8176 methods, for the id_token's and access token's `amr` when more than the password was used. */
  amr?: string[];
  /** Extra members of the token response (the mfa-recovery-code grant's next `recovery_code`). */
  responseExtra?: Record<string, string>;
  /** Set by post-login hooks: the access token's scope when a hook changed it (the refresh token keeps `scopes`; hooks run again at each refresh). */
  accessTokenScopes?: string[];
  /** Set by post-login hooks: namespaced claims added next to the server's own. */
  customClaims?: { accessToken: Record<string, unknown>; idToken: Record<string, unknown> };
  /** OIDC Core §3.1.2.1: the authorization request's nonce, repeated in the id_token. */
  nonce?: string;
  /** The browser session's `sid` (OpenID Connect Front-Channel Logout §3), so a logout hint names its own session. */
  sessionId?: string;
  /** The access token's `jti`, when the grant chose it beforehand (a replayed authorization code revokes it). */
  accessTokenJti?: string;
  /** The hooks ran when the browser signed in (authorization code, device approval): the token request does not run them again. */
  hooksApplied?: boolean;
}

/** Scope sets compare as sets (RFC 6749 §3.3: order carries no meaning). */
export function sameScopeSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((s) => b.includes(s));
}
