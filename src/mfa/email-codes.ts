/**
 * One-time codes by email, Auth0's `oob` factor with `binding_method:
 * prompt`: a 6-digit code goes to the address, and the client gets an
 * oob_code to send back beside it. The oob_code is the pending check itself,
 * sealed (it names the user, the client, the factor and the code's keyed
 * hash), so any node can open it and no table is needed; it lives 5
 * minutes and is spent once (MfaService.verifyOob).
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { constantTimeEqual, type KeyedFingerprint, type Sealer } from '../crypto/secrets.js';
import { InvalidGrantError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenant.js';
import type { EmailSender } from './email-sender.js';
import type { MfaTokenClaims } from './mfa-token.js';

const EMAIL_CODE_LIFETIME_SECONDS = 300;
const OOB_PREFIX = 'oob.';

/** What an oob_code carries. */
export interface OobClaims {
  jti: string;
  tenantId: string;
  userId: string;
  clientId: string;
  authenticatorId: string;
  codeHash: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface EmailCodesDeps {
  sender: EmailSender;
  /** Seals oob_codes. */
  oobSealer: Sealer;
  /** Keyed hashes of the codes. */
  codes: KeyedFingerprint;
  clock: Clock;
}

export class EmailCodes {
  constructor(private readonly deps: EmailCodesDeps) {}

  /** Emails a new code for the factor `target` to its address; returns the oob_code that goes with it. */
  async send(tenant: Tenant, claims: MfaTokenClaims, target: { id: string; email: string | null }): Promise<string> {
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const oob: OobClaims = {
      jti: randomUUID(),
      tenantId: tenant.id,
      userId: claims.userId,
      clientId: claims.clientId,
      authenticatorId: target.id,
      codeHash: this.deps.codes.of('email-code', target.id, code),
      expiresAt: this.deps.clock.now().getTime() + EMAIL_CODE_LIFETIME_SECONDS * 1000,
    };
    await this.deps.sender.send({
      to: target.email ?? '',
      subject: `Your ${tenant.name} verification code`,
      text:
        `Your verification code is ${code}\n\n` +
        `It expires in ${EMAIL_CODE_LIFETIME_SECONDS / 60} minutes. If you did not try to sign in, change your password.\n`,
    });
    return `${OOB_PREFIX}${this.deps.oobSealer.seal(JSON.stringify(oob))}`;
  }

  open(oobCode: string): OobClaims {
    try {
      if (!oobCode.startsWith(OOB_PREFIX)) throw new Error('no prefix');
      return JSON.parse(this.deps.oobSealer.unseal(oobCode.slice(OOB_PREFIX.length))) as OobClaims;
    } catch {
      throw new InvalidGrantError('The oob_code is malformed.');
    }
  }

  /** Whether `bindingCode` is the code that was emailed with this oob_code (constant time). */
  matches(oob: OobClaims, bindingCode: string): boolean {
    return constantTimeEqual(this.deps.codes.of('email-code', oob.authenticatorId, bindingCode.trim()), oob.codeHash);
  }
}
