/**
 * `type: ldap` connections: the password is checked by the directory itself
 * (a bind), the user is provisioned locally at the first successful login and
 * refreshed at each (so refresh tokens, blocks, MFA and attack protection
 * work as for any user), and nothing about the password is kept or cached.
 */
import { FilterParser } from 'ldapts';
import { ConfigError } from '../../config/load.js';
import { DEFAULT_LDAP_ATTRIBUTES, DEFAULT_LDAP_POOL_SIZE, type ConnectionConfig } from '../../config/schema.js';
import { TemporarilyUnavailableError } from '../../domain/errors.js';
import type { UserStore } from '../../storage/stores.js';
import type { CredentialResult, CredentialSource } from '../credential-source.js';
import { DirectoryUnavailableError, LdapDirectory, type DirectoryAnswer, type DirectoryProfile } from './ldap-directory.js';
import { isPlausibleLdapLoginName, searchFilterFor } from './ldap-text.js';
import { readTrustedCa } from './trusted-ca.js';

export class LdapCredentialSource implements CredentialSource {
  readonly type = 'ldap';

  /** `directories`: connection id → its directory, built from the configuration (which holds the service account's password). */
  constructor(
    private readonly directories: ReadonlyMap<string, LdapDirectory>,
    private readonly users: UserStore,
  ) {}

  async verify(input: Parameters<CredentialSource['verify']>[0]): Promise<CredentialResult> {
    const { connection } = input;
    const directory = this.directories.get(connection.id);
    if (!directory) throw new Error(`connection ${connection.name} has no LDAP directory configured`);
    // An empty password would be an "unauthenticated bind", which LDAP servers accept (RFC 4513 §5.1.2).
    if (input.password.length === 0) return { outcome: 'rejected', reason: 'no_password' };
    if (!isPlausibleLdapLoginName(input.username)) return { outcome: 'rejected', reason: 'unknown_user' };

    let answer: DirectoryAnswer;
    try {
      answer = await directory.authenticate(input.username, input.password);
    } catch (err) {
      if (!(err instanceof DirectoryUnavailableError)) throw err;
      throw new TemporarilyUnavailableError('The user directory did not answer; retry shortly.', 5, {
        errorReason: 'directory_unavailable',
        logDetail: `LDAP directory of connection ${connection.name}: ${err.why}`,
      });
    }
    if (answer.kind === 'unknown_user' || answer.kind === 'wrong_password') return { outcome: 'rejected', reason: answer.kind };
    const user = await this.users.provisionExternal({
      tenantId: input.tenantId,
      connectionId: connection.id,
      ...provisioned(answer.profile, input.username),
    });
    if (answer.kind === 'refused') return { outcome: 'refused', reason: answer.reason, user };
    return { outcome: 'verified', user };
  }

  async close(): Promise<void> {
    await Promise.all([...this.directories.values()].map((d) => d.close()));
  }
}

function provisioned(profile: DirectoryProfile, loginName: string) {
  return {
    username: profile.username ?? loginName,
    email: profile.email,
    // The directory vouches for its own mail attribute, as Auth0's AD/LDAP connector does.
    emailVerified: profile.email === undefined ? undefined : true,
    name: profile.name,
    givenName: profile.givenName,
    familyName: profile.familyName,
    groups: profile.groups,
  };
}

/**
 * The directory of one configured connection. Reads `tls_ca` now, so a
 * missing or unreadable CA file stops start-up with its path, and checks the
 * search filter parses.
 */
export function ldapDirectoryFor(connection: ConnectionConfig, warn: (message: string) => void): LdapDirectory {
  if (connection.url === undefined) throw new Error(`LDAP connection ${connection.name} has no url`);
  const ca = connection.tls_ca === undefined ? undefined : [readTrustedCa(connection.tls_ca, connection.name)];
  if (connection.search_filter !== undefined) {
    try {
      FilterParser.parseString(searchFilterFor(connection.search_filter, 'probe'));
    } catch (err) {
      throw new ConfigError(`connection ${connection.name}`, [
        `search_filter: not a valid LDAP filter (${(err as Error).message}); e.g. (uid={{username}})`,
      ]);
    }
  }
  return new LdapDirectory(
    {
      connectionName: connection.name,
      url: connection.url,
      startTls: connection.start_tls ?? false,
      ca,
      bindDn: connection.bind_dn,
      bindPassword: connection.bind_password,
      searchBase: connection.search_base,
      searchFilter: connection.search_filter,
      userDnTemplate: connection.user_dn_template,
      attributes: connection.attributes ?? DEFAULT_LDAP_ATTRIBUTES,
      timeoutMs: connection.timeout_ms,
      poolSize: connection.pool_size ?? DEFAULT_LDAP_POOL_SIZE,
    },
    warn,
  );
}
