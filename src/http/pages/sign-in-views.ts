/**
 * Renders the steps of a browser sign-in (oauth/browser/) as pages or as
 * the answer at the application's callback. Shared by the authorization
 * endpoint and the sign-in page: both can end in any step.
 */
import type { FastifyReply } from 'fastify';
import QRCode from 'qrcode';
import type { Tenant } from '../../domain/tenant.js';
import type { AuthorizationStep } from '../../oauth/browser/authorization-flow.js';
import { callbackParameters, callbackUrl } from '../../oauth/browser/authorization-request.js';
import type { LoginTransaction, LoginTransactions } from '../../oauth/browser/login-transaction.js';
import type { FactorChallenge, FactorEnrolment } from '../../oauth/browser/page-sign-in.js';
import { csrfToken, frame, sendPage } from './page-kit.js';
import { ENROL, LOGIN, RECOVERY_CODE, SECOND_FACTOR } from './templates/sign-in.js';
import { defineView, formPostView, messageView } from './views.js';

interface FormBase {
  csrf: string;
  tx: string;
  action: string;
  alert?: string | undefined;
}

const loginView = defineView<FormBase & { appName: string; username: string; realms: string[]; realm: string | undefined }>('login', LOGIN);
const secondFactorView = defineView<FormBase & { method: 'otp' | 'email'; mfaToken: string; oobCode: string | undefined }>(
  'second-factor',
  SECOND_FACTOR,
);
const enrolView = defineView<FormBase & { mfaToken: string; qr: string; secret: string; sealed: string }>('enrol', ENROL);
const recoveryCodeView = defineView<FormBase & { recoveryCode: string }>('recovery-code', RECOVERY_CODE);

/** The login page's address for a transaction: the sign-in page is always reached by this redirect. */
export function loginUrl(tenant: Tenant, transactions: LoginTransactions, transaction: LoginTransaction): string {
  return `${tenant.endpoints.issuer}login?tx=${encodeURIComponent(transactions.seal(transaction))}`;
}

export interface LoginFormData {
  appName: string;
  username: string;
  realms: string[];
  realm: string | undefined;
  alert?: string | undefined;
}

export function sendLoginForm(reply: FastifyReply, tenant: Tenant, sealedTx: string, data: LoginFormData): FastifyReply {
  const html = loginView({
    ...frame(tenant, 'Sign in'),
    ...data,
    csrf: csrfToken(reply, tenant),
    tx: sealedTx,
    action: `${tenant.endpoints.issuer}login`,
  });
  return sendPage(reply, html);
}

export async function sendSecondFactor(
  reply: FastifyReply,
  tenant: Tenant,
  sealedTx: string,
  factor: FactorChallenge | FactorEnrolment,
  alert?: string,
): Promise<FastifyReply> {
  const base = { csrf: csrfToken(reply, tenant), tx: sealedTx, action: `${tenant.endpoints.issuer}login`, alert };
  if (factor.kind === 'challenge') {
    const title = 'Verify it is you';
    return sendPage(
      reply,
      secondFactorView({ ...frame(tenant, title), ...base, method: factor.method, mfaToken: factor.mfaToken, oobCode: factor.oobCode }),
    );
  }
  // The QR code is an image made by a library (a PNG data: URL, which the pages' CSP allows for images only).
  const qr = await QRCode.toDataURL(factor.otpauthUri, { margin: 1, width: 192, errorCorrectionLevel: 'M' });
  return sendPage(
    reply,
    enrolView({
      ...frame(tenant, 'Set up a second step'),
      ...base,
      mfaToken: factor.mfaToken,
      qr,
      secret: factor.secret,
      sealed: factor.sealed,
    }),
  );
}

export function sendRecoveryCode(reply: FastifyReply, tenant: Tenant, sealedTx: string, recoveryCode: string): FastifyReply {
  const html = recoveryCodeView({
    ...frame(tenant, 'Your recovery code'),
    csrf: csrfToken(reply, tenant),
    tx: sealedTx,
    action: `${tenant.endpoints.issuer}login`,
    recoveryCode,
  });
  return sendPage(reply, html);
}

/**
 * A step of the authorization flow. `afterPost`: the request was a form
 * post, so redirects are 303 (RFC 9110 §15.4.4) and the browser then GETs.
 */
export async function sendAuthorizationStep(
  reply: FastifyReply,
  tenant: Tenant,
  transactions: LoginTransactions,
  step: AuthorizationStep,
  afterPost: boolean,
): Promise<FastifyReply> {
  const redirectStatus = afterPost ? 303 : 302;
  switch (step.kind) {
    case 'callback':
      if (step.target.responseMode === 'form_post') {
        const html = formPostView({
          ...frame(tenant, 'Signing you in', { script: 'form-post.js' }),
          action: step.target.redirectUri,
          fields: callbackParameters(step.target, step.fields),
          appName: step.appName,
        });
        return sendPage(reply, html);
      }
      return reply.redirect(callbackUrl(step.target, step.fields), redirectStatus);
    case 'sign_in':
      return reply.redirect(loginUrl(tenant, transactions, step.transaction), redirectStatus);
    case 'second_factor':
      return sendSecondFactor(reply, tenant, transactions.seal(step.transaction), step.factor);
    case 'denied':
      return sendPage(
        reply.code(403),
        messageView({
          ...frame(tenant, 'Access denied'),
          alert: step.sentence,
          lines: [`You cannot sign in to ${step.appName} with this account.`],
          link: { href: callbackUrl(step.target, step.fields), text: `Return to ${step.appName}` },
        }),
      );
  }
}
