/**
 * The services behind the hosted pages (DESIGN.md §7), built from the same
 * grant modules, MFA gate and hooks the token endpoint uses, so a person on
 * a page signs in exactly as a password-grant client would.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { CredentialSource } from '../identity/credential-source.js';
import { Sealer } from '../crypto/secrets.js';
import type { MfaService } from '../mfa/mfa-service.js';
import type { MfaTokens } from '../mfa/mfa-token.js';
import type { SecurityEvents } from '../observability/security-events.js';
import { AuthorizationCodes } from '../oauth/browser/authorization-codes.js';
import { AuthorizationFlow } from '../oauth/browser/authorization-flow.js';
import { BrowserSessions } from '../oauth/browser/browser-sessions.js';
import { LoginTransactions } from '../oauth/browser/login-transaction.js';
import { Logout } from '../oauth/browser/logout.js';
import { PageSignIn } from '../oauth/browser/page-sign-in.js';
import { DeviceApproval, USER_CODE_GUESSES } from '../oauth/device/device-approval.js';
import { createMfaGrant } from '../oauth/grants/mfa.js';
import { createPasswordGrant } from '../oauth/grants/password.js';
import type { MfaGate } from '../oauth/mfa-gate.js';
import type { PostLoginHooks } from '../oauth/post-login.js';
import type { AttackProtection } from '../protection/attack-protection.js';
import type { CounterBackend } from '../storage/counters.js';
import type { Stores } from '../storage/stores.js';
import { IdTokenHintVerifier } from '../tokens/id-token-hint.js';
import type { SigningKeys } from '../tokens/signing-keys.js';

export interface BrowserSignIn {
  flow: AuthorizationFlow;
  signIn: PageSignIn;
  sessions: BrowserSessions;
  transactions: LoginTransactions;
  /** RP-initiated logout (issue #14 point 6). */
  logout: Logout;
  /** The device flow's verification page (RFC 8628 §3.3): on these sessions and sign-in transactions. */
  deviceApproval: DeviceApproval;
}

export interface BrowserSignInParts {
  stores: Stores;
  masterKey: Buffer;
  credentialSources: ReadonlyMap<string, CredentialSource>;
  attackProtection: AttackProtection;
  mfa: MfaService;
  mfaTokens: MfaTokens;
  mfaGate: MfaGate;
  postLogin: PostLoginHooks;
  securityEvents: SecurityEvents;
  /** For logout's id_token_hint: the tenant's own keys. */
  signingKeys: SigningKeys;
  /** The wrong user codes per IP of the verification page (RFC 8628 §5.1). */
  counters: CounterBackend;
  clock: Clock;
  logger: Logger;
}

export function createBrowserSignIn(parts: BrowserSignInParts): BrowserSignIn {
  const { stores, masterKey, clock, mfaGate } = parts;
  const sessions = new BrowserSessions({ store: stores.browserSessions, users: stores.users, clock });
  const transactions = new LoginTransactions(new Sealer(masterKey, 'login-transaction'), clock);
  const signIn = new PageSignIn({
    passwordGrant: createPasswordGrant({ ...parts, users: stores.users }),
    mfaGrant: createMfaGrant({ users: stores.users, mfa: parts.mfa, mfaTokens: parts.mfaTokens, securityEvents: parts.securityEvents }),
    mfaGate,
    mfa: parts.mfa,
    mfaTokens: parts.mfaTokens,
    users: stores.users,
    sealer: new Sealer(masterKey, 'page-enrolment'),
    clock,
  });
  const flow = new AuthorizationFlow({
    sessions,
    transactions,
    codes: new AuthorizationCodes(stores.authorizationCodes, clock),
    signIn,
    mfaGate,
    postLogin: parts.postLogin,
    clock,
  });
  // RP-initiated logout (issue #14 point 6): the same sessions the sign-in starts.
  const logout = new Logout({ hints: new IdTokenHintVerifier(parts.signingKeys), sessions, securityEvents: parts.securityEvents });
  const deviceApproval = new DeviceApproval({
    deviceCodes: stores.deviceCodes,
    guesses: parts.counters.counter({ name: 'device_user_code', ...USER_CODE_GUESSES }),
    sessions,
    transactions,
    mfaGate,
    postLogin: parts.postLogin,
    securityEvents: parts.securityEvents,
    clock,
  });
  return { flow, signIn, sessions, transactions, logout, deviceApproval };
}
