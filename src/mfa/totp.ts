/**
 * TOTP factors (RFC 6238): 6 digits, 30-second steps, SHA-1, as every
 * authenticator app reads them from the enrolment's otpauth:// URI. A code
 * is good within ±1 step (§5.2's allowance for clock drift); that a step is
 * accepted only once is the store's job (MfaStore.advanceOtpStep).
 */
import { Secret, TOTP } from 'otpauth';

const TOTP_PERIOD_SECONDS = 30;
const TOTP_PARAMETERS = { digits: 6, period: TOTP_PERIOD_SECONDS, algorithm: 'SHA1' } as const;

export interface NewTotpSecret {
  /** Base32, as apps that cannot scan the code take it typed in. */
  secret: string;
  /** otpauth://totp/…: the QR code apps scan. */
  barcodeUri: string;
}

/** A fresh 160-bit secret, labelled with the tenant (issuer) and the user. */
export function newTotpSecret(issuer: string, label: string): NewTotpSecret {
  const secret = new Secret({ size: 20 });
  return { secret: secret.base32, barcodeUri: new TOTP({ issuer, label, ...TOTP_PARAMETERS, secret }).toString() };
}

/** The time step `otp` is the code of, within ±1 step of now; undefined when it is none. */
export function acceptedTotpStep(secretBase32: string, otp: string, nowMs: number): number | undefined {
  const totp = new TOTP({ ...TOTP_PARAMETERS, secret: Secret.fromBase32(secretBase32) });
  const delta = totp.validate({ token: otp, timestamp: nowMs, window: 1 });
  return delta === null ? undefined : Math.floor(nowMs / (TOTP_PERIOD_SECONDS * 1000)) + delta;
}
