/**
 * Issue #15 point 1: the account emails (src/oauth/accounts/account-emails.ts)
 * carry plain text and HTML with the tenant's name and the link, and escape
 * every value in the HTML: a username a stranger typed at sign-up cannot
 * inject markup into the message sent to someone's address.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { passwordResetEmail, usernameTakenEmail, verificationEmail } from '../../src/oauth/accounts/account-emails.js';

describe('account emails (issue #15 point 1)', () => {
  it('text and HTML both carry the tenant’s name and the absolute link', () => {
    const link = 'https://id.example.com/acme/reset-password?ticket=abc_DEF-123';
    const mail = passwordResetEmail('acme', 'ada@example.com', link, 60);
    assert.equal(mail.to, 'ada@example.com');
    assert.match(mail.subject, /acme/);
    assert.ok(mail.text.includes(link));
    assert.ok(mail.html?.includes(`href="${link}"`));
    assert.ok(mail.html?.includes('acme'));
    const verify = verificationEmail('acme', 'ada@example.com', 'https://id.example.com/acme/verify-email?ticket=x', 5);
    assert.match(verify.text, /5 days/);
  });

  it('a username with markup is escaped in the HTML and kept as typed in the text', () => {
    const mail = usernameTakenEmail('acme', 'ada@example.com', '<img src=x onerror=alert(1)>"&');
    assert.ok(!mail.html?.includes('<img'), mail.html);
    assert.ok(mail.html?.includes('&lt;img src=x onerror=alert(1)&gt;&quot;&amp;'));
    assert.ok(mail.text.includes('<img src=x onerror=alert(1)>"&'));
  });
});
