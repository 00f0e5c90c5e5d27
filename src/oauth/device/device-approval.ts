/**
 * The verification page's decisions (RFC 8628 §3.3, §5), as typed outcomes
 * the page renders:
 *
 * 1. A user code typed or confirmed. Wrong codes are counted per end-user
 *    IP: at most 10 per 10 minutes (RFC 8628 §5.1). Every guess is counted
 *    before the lookup and a right one given back, so a burst cannot slip
 *    past the limit, and a guess beyond it is refused even when right.
 * 2. A right code leads to the sign-in (a sealed LoginTransaction whose
 *    purpose is this device), then to the decision page, which shows the
 *    application, the scopes and where and when the device asked before
 *    anything is approved (RFC 8628 §5.4, remote phishing).
 * 3. confirm: the grant is decided now, for the session's user, as the
 *    password grant would decide it (scopes, API, the MFA step, post-login
 *    hooks with the device grant's name), and stored with the approval;
 *    deny: the device gets access_denied. A code that is no longer pending
 *    (answered in another tab, or the back button after a deny) changes
 *    nothing.
 */
import type { Clock } from '../../clock.js';
import type { AuthenticatedClient } from '../../domain/client.js';
import { AccessDeniedError, InvalidRequestError, MfaRequiredError } from '../../domain/errors.js';
import type { Grant } from '../../domain/grant.js';
import { DEVICE_CODE_GRANT } from '../../domain/grant-types.js';
import { servedConnectionOf, type Tenant } from '../../domain/tenant.js';
import type { SecurityEvents } from '../../observability/security-events.js';
import type { DeviceCodeRecord, DeviceCodeStore } from '../../storage/browser-stores.js';
import type { Counter } from '../../storage/counters.js';
import type { ApplicationRecord } from '../../storage/stores.js';
import type { ActiveSession, BrowserSessions } from '../browser/browser-sessions.js';
import type { LoginTransaction, LoginTransactions } from '../browser/login-transaction.js';
import type { MfaGate } from '../mfa-gate.js';
import type { PostLoginHooks } from '../post-login.js';
import { carriedGrantOf } from '../browser/authorization-codes.js';
import { sessionGrant } from '../browser/session-grant.js';
import { formatUserCode, normaliseUserCode } from './user-codes.js';

/** RFC 8628 §5.1: wrong user codes per end-user IP and window. */
export const USER_CODE_GUESSES = { limit: 10, windowSeconds: 600 } as const;

export interface DeviceApprovalDeps {
  deviceCodes: Pick<DeviceCodeStore, 'findPendingByUserCode' | 'findById' | 'decide'>;
  /** Wrong user codes per tenant and end-user IP (USER_CODE_GUESSES). */
  guesses: Counter;
  sessions: Pick<BrowserSessions, 'current'>;
  transactions: Pick<LoginTransactions, 'begin' | 'seal' | 'open'>;
  mfaGate: Pick<MfaGate, 'checkSession'>;
  postLogin: Pick<PostLoginHooks, 'apply'>;
  securityEvents: Pick<SecurityEvents, 'record'>;
  clock: Clock;
}

export type CodeEntry =
  /** Not 8 letters of the alphabet: a typo, not a guess (nothing is counted). */
  | { kind: 'malformed' }
  | { kind: 'wrong' }
  | { kind: 'too_many'; retryAfterSeconds: number }
  /** Signed in already: straight to the decision page. Otherwise the sign-in first. */
  | { kind: 'found'; tx: string; signIn: boolean };

/** What the decision page shows. */
export interface DeviceRequestDetails {
  appName: string;
  userCode: string;
  /** What confirming grants: the API (when there is one) and its scopes, as the token will carry them. */
  audience: string | undefined;
  scopes: string[];
  requestIp: string;
  requestUserAgent: string | null;
  requestedAt: Date;
  /** Who is about to approve. */
  username: string;
}

/** Why a request can no longer be decided. */
export type SettledReason = 'approved' | 'denied' | 'expired' | 'gone';

export type Review =
  | { kind: 'sign_in'; tx: string }
  | { kind: 'settled'; reason: SettledReason }
  | { kind: 'decide'; tx: string; details: DeviceRequestDetails };

export type Decision =
  | { kind: 'sign_in'; tx: string }
  | { kind: 'settled'; reason: SettledReason }
  | { kind: 'approved'; appName: string }
  | { kind: 'denied'; appName: string }
  /** A post-login hook refused, or the account may not use this application (`signInAgain`: a transaction to sign in with another). */
  | { kind: 'refused'; sentence: string; signInAgain?: string }
  /** A second factor is required and the fresh sign-in did not bring one. */
  | { kind: 'second_factor_missing' };

interface Pending {
  /** The transaction as the page carries it. */
  sealed: string;
  transaction: LoginTransaction;
  session: ActiveSession;
  record: DeviceCodeRecord;
  app: ApplicationRecord;
}

export class DeviceApproval {
  constructor(private readonly deps: DeviceApprovalDeps) {}

  /** A user code typed (or pre-filled and confirmed) by a person at `ip`. */
  async enterCode(tenant: Tenant, input: string | undefined, ip: string, sessionCookie: string | undefined): Promise<CodeEntry> {
    const userCode = normaliseUserCode(input);
    if (userCode === undefined) return { kind: 'malformed' };
    const key = `${tenant.id}:${ip}`;
    const counted = await this.deps.guesses.consume(key);
    if (!counted.allowed) {
      if (counted.consumed === USER_CODE_GUESSES.limit + 1) {
        await this.deps.securityEvents.record({ type: 'user_code_guesses_exceeded', tenantId: tenant.id, ip });
      }
      return { kind: 'too_many', retryAfterSeconds: Math.max(1, Math.ceil(counted.msBeforeReset / 1000)) };
    }
    const record = await this.deps.deviceCodes.findPendingByUserCode(tenant.id, userCode, this.deps.clock.now());
    if (!record) return { kind: 'wrong' };
    await this.deps.guesses.refund(key);
    const transaction = this.deps.transactions.begin({
      tenantId: tenant.id,
      clientId: record.clientId,
      purpose: { kind: 'device', deviceId: record.id },
    });
    const session = await this.deps.sessions.current(tenant, sessionCookie);
    return { kind: 'found', tx: this.deps.transactions.seal(transaction), signIn: session === undefined };
  }

  /** The decision page: the device's request, for a signed-in person. */
  async review(tenant: Tenant, tx: string | undefined, sessionCookie: string | undefined): Promise<Review> {
    const found = await this.pending(tenant, tx, sessionCookie);
    if (found.kind !== 'pending') return found;
    const { sealed, record, app, session } = found.pending;
    const grant = this.grantFor(tenant, found.pending);
    return {
      kind: 'decide',
      tx: sealed,
      details: {
        appName: app.settings.name ?? app.clientId,
        userCode: formatUserCode(record.userCode),
        audience: grant.api?.identifier,
        scopes: grant.scopes,
        requestIp: record.requestIp,
        requestUserAgent: record.requestUserAgent,
        requestedAt: record.createdAt,
        username: session.user.username,
      },
    };
  }

  /** The person's answer: `confirm` or `deny`. */
  async decide(
    tenant: Tenant,
    tx: string | undefined,
    action: string | undefined,
    ip: string,
    sessionCookie: string | undefined,
  ): Promise<Decision> {
    if (action !== 'confirm' && action !== 'deny') throw new InvalidRequestError('Choose Confirm or Deny.');
    const found = await this.pending(tenant, tx, sessionCookie);
    if (found.kind !== 'pending') return found;
    const { pending } = found;
    if (action === 'deny') return this.deny(tenant, pending, ip, 'user');
    return this.confirm(tenant, pending, ip);
  }

  private async confirm(tenant: Tenant, pending: Pending, ip: string): Promise<Decision> {
    const { record, app, session } = pending;
    const allowed = app.settings.connections;
    const connection = servedConnectionOf(tenant, session.user);
    if (allowed !== undefined && (connection === undefined || !allowed.includes(connection.name))) {
      const { transaction } = pending;
      const again = this.deps.transactions.begin({
        tenantId: transaction.tenantId,
        clientId: transaction.clientId,
        purpose: transaction.purpose,
      });
      return {
        kind: 'refused',
        sentence: `Your account cannot be used with ${appNameOf(app)}. Sign in with another account to continue.`,
        signInAgain: this.deps.transactions.seal(again),
      };
    }
    const client: AuthenticatedClient = { app, method: app.settings.token_endpoint_auth_method };
    const grant = this.grantFor(tenant, pending);
    let decided: Grant;
    try {
      await this.deps.mfaGate.checkSession(grant, tenant, client);
      decided = await this.deps.postLogin.apply(grant, tenant, client, () => ip);
    } catch (err) {
      if (err instanceof MfaRequiredError) return this.stepUp(pending);
      if (err instanceof AccessDeniedError) {
        const denied = await this.deny(tenant, pending, ip, 'hook');
        return denied.kind === 'denied' ? { kind: 'refused', sentence: err.description } : denied;
      }
      throw err;
    }
    const carried = carriedGrantOf({ ...decided, hooksApplied: true });
    const approval = { status: 'approved' as const, userId: session.user.id, grant: JSON.stringify(carried) };
    if (!(await this.deps.deviceCodes.decide(tenant.id, record.id, approval, this.deps.clock.now()))) {
      return { kind: 'settled', reason: await this.settledReason(tenant, record.id) };
    }
    await this.deps.securityEvents.record({
      type: 'device_approved',
      tenantId: tenant.id,
      clientId: app.clientId,
      userId: session.user.id,
      ip,
      details: { request_ip: record.requestIp },
    });
    return { kind: 'approved', appName: appNameOf(app) };
  }

  private async deny(tenant: Tenant, pending: Pending, ip: string, reason: 'user' | 'hook'): Promise<Decision> {
    const { record, app, session } = pending;
    if (!(await this.deps.deviceCodes.decide(tenant.id, record.id, { status: 'denied' }, this.deps.clock.now()))) {
      return { kind: 'settled', reason: await this.settledReason(tenant, record.id) };
    }
    await this.deps.securityEvents.record({
      type: 'device_denied',
      reason,
      tenantId: tenant.id,
      clientId: app.clientId,
      userId: session.user.id,
      ip,
      details: { request_ip: record.requestIp },
    });
    return { kind: 'denied', appName: appNameOf(app) };
  }

  /**
   * The session signed in without the second factor this application needs:
   * a fresh sign-in (`prompt: login`), where the sign-in page asks for the
   * factor. Once only: a transaction that already asked for it and comes
   * back without the factor is told so, never sent round again.
   */
  private stepUp(pending: Pending): Decision {
    const { transaction } = pending;
    if (transaction.prompt === 'login') return { kind: 'second_factor_missing' };
    const again = this.deps.transactions.begin({
      tenantId: transaction.tenantId,
      clientId: transaction.clientId,
      purpose: transaction.purpose,
      prompt: 'login',
    });
    return { kind: 'sign_in', tx: this.deps.transactions.seal(again) };
  }

  /** The grant confirming would give: the session's, for the API and scopes the device asked (browser/session-grant.ts). */
  private grantFor(tenant: Tenant, { record, app, session }: Pending): Grant {
    const scopes = record.scope.length > 0 ? record.scope : undefined;
    return sessionGrant(tenant, app, session, { grantType: DEVICE_CODE_GRANT, audience: record.audience ?? undefined, scopes });
  }

  /** The transaction, the session and the device request, when all three still stand. */
  private async pending(
    tenant: Tenant,
    tx: string | undefined,
    sessionCookie: string | undefined,
  ): Promise<{ kind: 'pending'; pending: Pending } | { kind: 'sign_in'; tx: string } | { kind: 'settled'; reason: SettledReason }> {
    const transaction = this.deps.transactions.open(tx, tenant.id);
    // open() refused an absent transaction with the page's sentence.
    const sealed = tx as string;
    if (transaction.purpose.kind !== 'device') {
      throw new InvalidRequestError('This link is not for a device; go back to the device and start again.', {
        logDetail: 'a sign-in transaction of another purpose at the verification page',
      });
    }
    const session = await this.deps.sessions.current(tenant, sessionCookie);
    if (!session) return { kind: 'sign_in', tx: sealed };
    const record = await this.deps.deviceCodes.findById(tenant.id, transaction.purpose.deviceId);
    const app = record && tenant.applications.get(record.clientId);
    if (!record || !app || record.clientId !== transaction.clientId) return { kind: 'settled', reason: 'gone' };
    if (record.status !== 'pending') return { kind: 'settled', reason: settledStatus(record) };
    if (record.expiresAt <= this.deps.clock.now()) return { kind: 'settled', reason: 'expired' };
    return { kind: 'pending', pending: { sealed, transaction, session, record, app } };
  }

  private async settledReason(tenant: Tenant, id: string): Promise<SettledReason> {
    const record = await this.deps.deviceCodes.findById(tenant.id, id);
    if (!record) return 'gone';
    return record.status === 'pending' ? 'expired' : settledStatus(record);
  }
}

function settledStatus(record: DeviceCodeRecord): SettledReason {
  return record.status === 'denied' ? 'denied' : 'approved';
}

const appNameOf = (app: ApplicationRecord): string => app.settings.name ?? app.clientId;
