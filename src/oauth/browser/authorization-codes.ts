/**
 * Authorization codes (DESIGN.md §7, RFC 6749 §4.1.2): 256 random bits,
 * stored only as a SHA-256, single use, 60 seconds, bound to the client, the
 * redirect_uri, the PKCE challenge and the nonce. The code carries the whole
 * decision of the sign-in (the grant after the MFA step and the hooks), so
 * its redemption issues exactly that.
 */
import type { Clock } from '../../clock.js';
import { randomToken, sha256Base64Url } from '../../crypto/secrets.js';
import type { ApiConfig } from '../../config/schema.js';
import { InvalidGrantError } from '../../domain/errors.js';
import type { Grant } from '../../domain/grant.js';
import type { AuthorizationCodeStore } from '../../storage/browser-stores.js';
import type { UserRecord } from '../../storage/stores.js';

/** RFC 6749 §4.1.2 recommends at most 10 minutes; a browser follows its redirect in well under one. */
export const AUTHORIZATION_CODE_LIFETIME_SECONDS = 60;

/** The grant as the code carries it: everything but the user, read again at redemption. */
export interface CodeGrant {
  userId: string;
  grantType: string;
  audience: string | null;
  scopes: string[];
  requestedScopes: string[] | null;
  /** Epoch ms. */
  authTime: number;
  amr: string[] | null;
  refresh: boolean;
  nonce: string | null;
  /** The browser session's sid; absent in codes issued before it existed. */
  sid?: string | null;
  accessTokenScopes: string[] | null;
  customClaims: Grant['customClaims'] | null;
}

export interface CodeBinding {
  tenantId: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
}

export class AuthorizationCodes {
  constructor(
    private readonly store: AuthorizationCodeStore,
    private readonly clock: Clock,
  ) {}

  /** A new code for a decided grant; only its hash is stored. */
  async issue(grant: Grant, binding: CodeBinding): Promise<string> {
    const code = randomToken(32);
    const now = this.clock.now();
    const carried = carriedGrantOf(grant);
    await this.store.create({
      codeHash: sha256Base64Url(code),
      ...binding,
      userId: carried.userId,
      grant: JSON.stringify(carried),
      createdAt: now,
      expiresAt: new Date(now.getTime() + AUTHORIZATION_CODE_LIFETIME_SECONDS * 1000),
    });
    return code;
  }
}

/** A user's decided grant as a code (or an approved device code) carries it: everything but the user record. */
export function carriedGrantOf(grant: Grant): CodeGrant {
  if (grant.subject.kind !== 'user') throw new TypeError('a code is issued for a user');
  return {
    userId: grant.subject.user.id,
    grantType: grant.grantType,
    audience: grant.api?.identifier ?? null,
    scopes: grant.scopes,
    requestedScopes: grant.requestedScopes ?? null,
    authTime: grant.authTime.getTime(),
    amr: grant.amr ?? null,
    refresh: grant.refresh.kind === 'new_family',
    nonce: grant.nonce ?? null,
    sid: grant.sessionId ?? null,
    accessTokenScopes: grant.accessTokenScopes ?? null,
    customClaims: grant.customClaims ?? null,
  };
}

/** The carried grant made whole again, for the user as read at redemption. The API may have left the configuration since. */
export function grantOfCode(
  carried: CodeGrant,
  user: UserRecord,
  apis: ReadonlyMap<string, ApiConfig>,
  issued: { refreshFamilyId: string | null; accessTokenJti: string },
): Grant {
  const api = carried.audience === null ? undefined : apis.get(carried.audience);
  if (carried.audience !== null && !api) throw new InvalidGrantError('The API of this sign-in no longer exists.');
  return {
    grantType: carried.grantType,
    subject: { kind: 'user', user },
    api,
    scopes: carried.scopes,
    requestedScopes: carried.requestedScopes ?? undefined,
    authTime: new Date(carried.authTime),
    refresh:
      carried.refresh && issued.refreshFamilyId !== null ? { kind: 'new_family', familyId: issued.refreshFamilyId } : { kind: 'none' },
    ...(carried.amr ? { amr: carried.amr } : {}),
    ...(carried.nonce !== null ? { nonce: carried.nonce } : {}),
    ...(typeof carried.sid === 'string' ? { sessionId: carried.sid } : {}),
    ...(carried.accessTokenScopes ? { accessTokenScopes: carried.accessTokenScopes } : {}),
    ...(carried.customClaims ? { customClaims: carried.customClaims } : {}),
    accessTokenJti: issued.accessTokenJti,
    hooksApplied: true,
  };
}
