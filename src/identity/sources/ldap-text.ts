/**
 * The pure parts of the LDAP credential source: placing a login name into a
 * DN template or a search filter, reading what a directory says about a
 * refused bind (the password-policy control of draft-behera-ldap-password-policy,
 * Active Directory's diagnostic sub-codes), and turning group DNs into names.
 * Kept apart so they are unit-tested without a directory.
 */
import { BerReader, Control, Filter } from 'ldapts';
import type { DirectoryRefusal } from '../credential-source.js';

const MAX_LOGIN_NAME = 256;

/**
 * Login names that can never name a directory entry are refused before any
 * LDAP traffic: control characters, surrounding spaces (directories trim them,
 * so " alice" would be alice by another name) and absurd lengths.
 */
export function isPlausibleLdapLoginName(name: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  return name.length > 0 && name.length <= MAX_LOGIN_NAME && name.trim() === name && !/[\u0000-\u001f\u007f]/.test(name);
}

/**
 * RFC 4514 §2.4: an attribute value inside a DN string. ldapts' own RDN
 * escaping quotes values with surrounding spaces, which is LDAPv2 syntax that
 * RFC 4514 dropped, so the template substitution escapes here.
 */
export function escapeDnValue(value: string): string {
  let out = '';
  const chars = [...value];
  for (const [i, ch] of chars.entries()) {
    if (ch === '\\' || ch === ',' || ch === '+' || ch === '"' || ch === '<' || ch === '>' || ch === ';' || ch === '=') out += `\\${ch}`;
    else if (ch === '#' && i === 0) out += '\\#';
    else if (ch === ' ' && (i === 0 || i === chars.length - 1)) out += '\\ ';
    else if (ch === '\u0000') out += '\\00';
    else out += ch;
  }
  return out;
}

export function userDnFromTemplate(template: string, loginName: string): string {
  return template.replaceAll('{{username}}', escapeDnValue(loginName));
}

/** RFC 4515 §3 escaping (ldapts' Filter.escape), so `*` or `)` in a login name cannot widen the search. */
export function searchFilterFor(template: string, loginName: string): string {
  return template.replaceAll('{{username}}', Filter.escape(loginName));
}

/** The first RDN's value of a group DN (`cn=engineers,ou=groups,…` → `engineers`); a value that is not a DN is kept as it is. */
export function groupName(value: string): string {
  const match = /^[A-Za-z][\w-]*=((?:\\.|[^,+\\])+)(?:[,+]|$)/.exec(value);
  if (!match?.[1]) return value;
  // A run of hex escapes is UTF-8 bytes (`\C3\BC` is ü); any other `\x` is x.
  return match[1].replace(
    /(?:\\[0-9a-fA-F]{2})+|\\(.)/g,
    (run: string, escaped: string | undefined) => escaped ?? Buffer.from(run.replaceAll('\\', ''), 'hex').toString('utf8'),
  );
}

/** draft-behera-ldap-password-policy §6.2: the request control (no value) and its response. */
export const PASSWORD_POLICY_OID = '1.3.6.1.4.1.42.2.27.8.5.1';

const POLICY_ERRORS: Record<number, DirectoryRefusal | undefined> = {
  0: 'password_expired',
  1: 'account_locked',
  2: 'password_change_required',
};

/**
 * Sent with each user bind. ldapts hands the server's response control of the
 * same OID to this instance's `parseControl`, so after the bind (successful
 * or not) `refusal` says what the directory's password policy decided.
 */
export class PasswordPolicyControl extends Control {
  refusal: DirectoryRefusal | undefined;

  constructor() {
    super(PASSWORD_POLICY_OID, { critical: false });
  }

  protected override parseControl(reader: BerReader): void {
    this.refusal = decodePasswordPolicyResponse(reader.buffer);
  }
}

/**
 * PasswordPolicyResponseValue ::= SEQUENCE { warning [0] CHOICE {…} OPTIONAL,
 * error [1] ENUMERATED {…} OPTIONAL }. Only the errors that refuse a sign-in
 * matter here; anything unreadable counts as no answer.
 */
export function decodePasswordPolicyResponse(value: Buffer): DirectoryRefusal | undefined {
  if (value.length === 0) return undefined;
  try {
    const reader = new BerReader(value);
    if (reader.readSequence(0x30) === null) return undefined;
    const end = reader.offset + reader.length;
    while (reader.offset < end) {
      const tag = reader.peek();
      if (tag === 0xa0) {
        // A warning (time before expiry, grace logins left): skip it whole.
        reader.readSequence(0xa0);
        reader.offset += reader.length;
      } else if (tag === 0x81) {
        const code = reader.readTag(0x81);
        return code === null ? undefined : POLICY_ERRORS[code];
      } else {
        return undefined;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * Active Directory explains a refused bind (result 49) in its diagnostic
 * message: `… AcceptSecurityContext error, data 775, v4563`. These sub-codes
 * come only after the password checked out, except 775 (locked), which AD
 * reports whatever the password.
 */
const AD_SUBCODES: Record<string, DirectoryRefusal> = {
  '532': 'password_expired',
  '773': 'password_change_required',
  '775': 'account_locked',
  '533': 'account_locked', // account disabled
  '701': 'account_locked', // account expired
};

export function activeDirectoryRefusal(diagnostic: string): DirectoryRefusal | undefined {
  const match = /\bdata ([0-9a-f]{3,8})\b/i.exec(diagnostic);
  return match?.[1] === undefined ? undefined : AD_SUBCODES[match[1].toLowerCase()];
}
