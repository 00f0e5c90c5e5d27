/**
 * RFC 8628 §3.4–3.5: the device polls with its device code until the
 * person has answered on the verification page. Each poll is recorded; the
 * answer depends on where the request stands:
 *
 * - pending: `authorization_pending`, or `slow_down` (the interval grows by
 *   5 s) when this poll came sooner than the interval after the previous
 *   one. The first poll has no previous one, so it is never `slow_down`
 *   (MSAL polls at once and throws on anything but authorization_pending);
 * - denied: `access_denied`, at every poll: no token ever follows a deny;
 * - expired: `expired_token`;
 * - approved: redeemed once, atomically (approved → redeemed), with the
 *   user read again: a block, a deletion or a password change since the
 *   sign-in that approved it issues nothing;
 * - redeemed, unknown, or another client's: `invalid_grant`.
 *
 * The grant was decided at approval (oauth/device/device-approval.ts), MFA
 * and post-login hooks included, so it carries `hooksApplied`.
 */
import { randomUUID } from 'node:crypto';
import { sha256Base64Url } from '../../crypto/secrets.js';
import {
  AuthorizationPendingError,
  DeviceAccessDeniedError,
  ExpiredTokenError,
  SlowDownError,
  UnknownDeviceCodeError,
} from '../../domain/device-errors.js';
import { InvalidGrantError } from '../../domain/errors.js';
import { DEVICE_CODE_GRANT, type GrantTypeName } from '../../domain/grant-types.js';
import type { DeviceCodeRecord, DeviceCodeStore } from '../../storage/browser-stores.js';
import type { UserStore } from '../../storage/stores.js';
import { newFamilyId } from '../../tokens/refresh-token-format.js';
import { grantOfCode, type CodeGrant } from '../browser/authorization-codes.js';
import type { RequestParameters } from '../request-parameters.js';
import { userOfSignInInProgress } from '../sessions.js';
import type { GrantContext, GrantDecision, GrantHandler } from './grant-handler.js';

export interface DeviceCodeRequest {
  deviceCode: string;
}

export interface DeviceCodeGrantDeps {
  deviceCodes: Pick<DeviceCodeStore, 'poll' | 'redeem'>;
  users: Pick<UserStore, 'findById'>;
}

/** RFC 8628 §3.5: each slow_down adds 5 seconds, for this and every later poll. */
export const SLOW_DOWN_STEP_SECONDS = 5;

export function createDeviceCodeGrant(deps: DeviceCodeGrantDeps): GrantHandler<DeviceCodeRequest> {
  return new DeviceCodeGrant(deps);
}

class DeviceCodeGrant implements GrantHandler<DeviceCodeRequest> {
  /** The short `device_code` MSAL sends is an alias the registry adds (grants/registry.ts): applications name the URN. */
  readonly grantTypes: readonly GrantTypeName[] = [DEVICE_CODE_GRANT];

  constructor(private readonly deps: DeviceCodeGrantDeps) {}

  parse(params: RequestParameters): DeviceCodeRequest {
    return { deviceCode: params.require('device_code') };
  }

  async handle(request: DeviceCodeRequest, ctx: GrantContext): Promise<GrantDecision> {
    const { tenant, client } = ctx;
    const deviceCodeHash = sha256Base64Url(request.deviceCode);
    const polled = await this.deps.deviceCodes.poll(tenant.id, deviceCodeHash, ctx.now, false);
    if (!polled) throw new UnknownDeviceCodeError({ logDetail: 'unknown device code' });
    const { record } = polled;
    if (record.clientId !== client.app.clientId) {
      throw new UnknownDeviceCodeError({ logDetail: `device code of client ${record.clientId} presented by ${client.app.clientId}` });
    }
    if (record.status === 'redeemed') {
      throw new InvalidGrantError('The device code has already been used.', { logDetail: 'device code redeemed before' });
    }
    if (record.status === 'denied') throw new DeviceAccessDeniedError({ logDetail: 'the user denied this device code' });
    if (record.expiresAt <= ctx.now) throw new ExpiredTokenError({ logDetail: 'device code past its expires_in' });
    if (record.status === 'pending') throw await this.pending(record, deviceCodeHash, ctx.now);

    // approved: exactly one poll turns it into tokens.
    if (!(await this.deps.deviceCodes.redeem(tenant.id, record.id))) {
      throw new InvalidGrantError('The device code has already been used.', { logDetail: 'device code redeemed by a concurrent poll' });
    }
    if (record.grant === null) throw new Error(`approved device code ${record.id} carries no grant`);
    const carried = JSON.parse(record.grant) as CodeGrant;
    const user = await userOfSignInInProgress(this.deps.users, tenant, carried, 'device code');
    const issued = { refreshFamilyId: carried.refresh ? newFamilyId() : null, accessTokenJti: randomUUID() };
    return { grant: grantOfCode(carried, user, tenant.apis, issued) };
  }

  /** RFC 8628 §3.5: too soon after the previous poll is slow_down, and the interval grows for good. */
  private async pending(record: DeviceCodeRecord, deviceCodeHash: string, now: Date): Promise<Error> {
    const previous = record.lastPolledAt;
    if (previous === null || now.getTime() - previous.getTime() >= record.interval * 1000) return new AuthorizationPendingError();
    // The store records the interval's growth on a poll flagged slow: this poll, recorded again with the flag.
    await this.deps.deviceCodes.poll(record.tenantId, deviceCodeHash, now, true);
    return new SlowDownError(record.interval + SLOW_DOWN_STEP_SECONDS, {
      logDetail: `polled ${now.getTime() - previous.getTime()} ms after the previous poll; the interval is ${record.interval} s`,
    });
  }
}
