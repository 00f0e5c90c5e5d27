/**
 * The account emails of DESIGN.md §8 as real messages: plain text and HTML,
 * the tenant's name, and the absolute link on public_url. Every value that
 * reaches the HTML is escaped.
 */
import type { EmailMessage } from '../../mfa/email-sender.js';

const escapeHtml = (value: string): string =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

function message(to: string, subject: string, paragraphs: string[], link?: { href: string; text: string }): EmailMessage {
  const text = [...paragraphs, ...(link ? [`${link.text}: ${link.href}`] : [])].join('\n\n');
  const body = paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`);
  if (link) body.push(`<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>`);
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head><body>${body.join('')}</body></html>`;
  return { to, subject, text: `${text}\n`, html };
}

export function verificationEmail(tenantName: string, to: string, link: string, validDays: number): EmailMessage {
  return message(
    to,
    `Verify your email for ${tenantName}`,
    [
      `Welcome to ${tenantName}. Confirm that this is your email address by opening the link below.`,
      `The link works once, for ${validDays} days. If you did not sign up, ignore this email.`,
    ],
    { href: link, text: 'Verify my email' },
  );
}

/** To the owner of an address someone tried to sign up with again (DESIGN.md §8: the answer reveals nothing, the owner is told). */
export function signUpAttemptEmail(tenantName: string, to: string): EmailMessage {
  return message(to, `Someone tried to sign up for ${tenantName} with your email`, [
    `Someone tried to create an account for ${tenantName} with this email address, which already has one. No new account was created and your password has not changed.`,
    'If it was you, sign in with your existing account, or ask for a password reset if you have forgotten it. If it was not you, you need do nothing.',
  ]);
}

/** To the address of a sign-up whose username is taken (the address itself is free): no account was made. */
export function usernameTakenEmail(tenantName: string, to: string, username: string): EmailMessage {
  return message(to, `Your sign-up for ${tenantName} did not go through`, [
    `Someone, perhaps you, tried to create an account for ${tenantName} with this email address and the username "${username}", which is already taken. No account was created.`,
    'To sign up, try again with another username. If it was not you, you need do nothing.',
  ]);
}

export function passwordResetEmail(tenantName: string, to: string, link: string, validMinutes: number): EmailMessage {
  return message(
    to,
    `Reset your password for ${tenantName}`,
    [
      `Someone asked to reset the password of your ${tenantName} account. Open the link below to choose a new one.`,
      `The link works once, for ${validMinutes} minutes. If you did not ask, ignore this email: your password stays as it is.`,
    ],
    { href: link, text: 'Reset my password' },
  );
}
