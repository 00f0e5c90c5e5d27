/**
 * One LDAP or Active Directory server behind a `type: ldap` connection:
 * pooled ldapts connections, search-then-bind or a bind with a DN template,
 * and the directory's verdict on a bind read from its password-policy control
 * or its diagnostic message. Whatever is not a verdict (no answer in time,
 * a refused connection, a service account the directory no longer accepts)
 * is `DirectoryUnavailableError`, which the source turns into 503: a
 * directory that cannot answer never makes a password wrong.
 */
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Client, InvalidCredentialsError, ResultCodeError, type Entry } from 'ldapts';
import type { LdapAttributesConfig } from '../../config/schema.js';
import { describeError } from '../../observability/error-text.js';
import type { DirectoryRefusal } from '../credential-source.js';
import { activeDirectoryRefusal, groupName, PasswordPolicyControl, searchFilterFor, userDnFromTemplate } from './ldap-text.js';

export interface LdapDirectorySettings {
  connectionName: string;
  url: string;
  startTls: boolean;
  /** PEM CA certificates to trust instead of the system list; undefined: the system list. */
  ca: string[] | undefined;
  bindDn: string | undefined;
  bindPassword: string | undefined;
  searchBase: string | undefined;
  searchFilter: string | undefined;
  userDnTemplate: string | undefined;
  attributes: LdapAttributesConfig;
  timeoutMs: number;
  poolSize: number;
}

/** What the directory's entry says about the user, already bounded. */
export interface DirectoryProfile {
  username: string | undefined;
  email: string | undefined;
  name: string | undefined;
  givenName: string | undefined;
  familyName: string | undefined;
  groups: string[] | undefined;
}

export type DirectoryAnswer =
  | { kind: 'unknown_user' }
  | { kind: 'wrong_password' }
  | { kind: 'verified'; profile: DirectoryProfile }
  | { kind: 'refused'; reason: DirectoryRefusal; profile: DirectoryProfile };

export class DirectoryUnavailableError extends Error {
  constructor(readonly why: string) {
    super(why);
    this.name = 'DirectoryUnavailableError';
  }
}

const MAX_VALUE_LENGTH = 256;
/** RFC 4511 result codes. */
const NO_SUCH_OBJECT = 32;
const INVALID_DN_SYNTAX = 34;
const MAX_GROUPS = 200;

export class LdapDirectory {
  /** Connections bound as the service account, for searches. */
  private readonly searchers: ClientPool;
  /** Connections for user binds: each bind re-authenticates the connection, so they are never used to search as the service account. */
  private readonly binders: ClientPool;
  private readonly attributeNames: string[];

  constructor(
    private readonly settings: LdapDirectorySettings,
    private readonly warn: (message: string) => void,
  ) {
    const searchPoolSize = settings.searchFilter === undefined ? 0 : Math.max(1, Math.ceil(settings.poolSize / 2));
    this.searchers = new ClientPool(searchPoolSize, () => this.openClient(true));
    this.binders = new ClientPool(settings.poolSize, () => this.openClient(false));
    const a = settings.attributes;
    this.attributeNames = [...new Set([a.username, a.email, a.name, a.given_name, a.family_name, a.groups])];
  }

  /** Checks `password` for `loginName`; throws DirectoryUnavailableError when the directory cannot say. */
  async authenticate(loginName: string, password: string): Promise<DirectoryAnswer> {
    const deadline = Date.now() + this.settings.timeoutMs;
    let entry: Entry | undefined;
    let userDn: string;
    if (this.settings.searchFilter !== undefined) {
      const found = await this.searchers.use(deadline, (client) => this.findUser(client, loginName));
      if (found.length === 0) return { kind: 'unknown_user' };
      if (found.length > 1) {
        this.warn(
          `search_filter of LDAP connection ${this.settings.connectionName} matched more than one entry for one login name; refusing it. Make the filter match one entry per user.`,
        );
        return { kind: 'unknown_user' };
      }
      entry = found[0] as Entry;
      userDn = entry.dn;
    } else {
      userDn = userDnFromTemplate(this.settings.userDnTemplate ?? '', loginName);
    }

    return this.binders.use(deadline, async (client) => {
      const policy = new PasswordPolicyControl();
      let bound = false;
      let refusal: DirectoryRefusal | undefined;
      try {
        await client.bind(userDn, password, policy);
        bound = true;
        refusal = policy.refusal;
      } catch (err) {
        // A DN the directory cannot parse or does not hold names nobody (most directories answer 49 for both anyway).
        if (err instanceof ResultCodeError && (err.code === INVALID_DN_SYNTAX || err.code === NO_SUCH_OBJECT))
          return { kind: 'unknown_user' as const };
        if (!(err instanceof InvalidCredentialsError)) throw err;
        // 49 is also how a directory refuses a right password it will not accept; its policy control or diagnostic says why.
        refusal = policy.refusal ?? activeDirectoryRefusal(err.message);
        if (refusal === undefined) return { kind: 'wrong_password' as const };
      }
      // A direct bind has no entry yet: read it as the user, who can usually read their own (a refused bind cannot).
      if (entry === undefined && bound && refusal === undefined) entry = await this.readOwnEntry(client, userDn);
      const profile = this.profileOf(entry, loginName);
      return refusal === undefined ? { kind: 'verified' as const, profile } : { kind: 'refused' as const, reason: refusal, profile };
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.searchers.close(), this.binders.close()]);
  }

  private async findUser(client: Client, loginName: string): Promise<Entry[]> {
    const { searchEntries } = await client.search(this.settings.searchBase ?? '', {
      scope: 'sub',
      filter: searchFilterFor(this.settings.searchFilter ?? '', loginName),
      attributes: this.attributeNames,
      sizeLimit: 2,
    });
    return searchEntries;
  }

  private async readOwnEntry(client: Client, userDn: string): Promise<Entry | undefined> {
    try {
      const { searchEntries } = await client.search(userDn, { scope: 'base', filter: '(objectClass=*)', attributes: this.attributeNames });
      return searchEntries[0];
    } catch (err) {
      if (err instanceof ResultCodeError) return undefined; // not allowed to read it: sign in without a profile
      throw err;
    }
  }

  private profileOf(entry: Entry | undefined, loginName: string): DirectoryProfile {
    const a = this.settings.attributes;
    const first = (name: string) => {
      const value = valuesOf(entry, name)[0];
      return value !== undefined && value.length <= MAX_VALUE_LENGTH ? value : undefined;
    };
    const email = first(a.email);
    const groups =
      entry === undefined
        ? undefined
        : valuesOf(entry, a.groups)
            .map(groupName)
            .filter((g) => g.length <= MAX_VALUE_LENGTH)
            .slice(0, MAX_GROUPS);
    return {
      username: first(a.username) ?? loginName,
      email: email !== undefined && /^[^\s@]+@[^\s@]+$/.test(email) ? email : undefined,
      name: first(a.name),
      givenName: first(a.given_name),
      familyName: first(a.family_name),
      groups,
    };
  }

  /** A new connection; the pool replaces it rather than letting ldapts reconnect it (which would skip StartTLS). */
  private async openClient(asServiceAccount: boolean): Promise<Client> {
    const url = new URL(this.settings.url);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const tlsOptions: ConnectionOptions = {
      ...(this.settings.ca === undefined ? {} : { ca: this.settings.ca }),
      host,
      ...(isIP(host) === 0 ? { servername: host } : {}),
    };
    let opened = false;
    const watch: ConnectionWatch = { closed: false, listeners: new Set() };
    const onClose = () => {
      watch.closed = true;
      for (const listener of watch.listeners) listener();
    };
    const once = <T extends import('node:net').Socket>(open: () => T): T => {
      if (opened) throw new Error('connection closed by the directory');
      opened = true;
      // ldapts stops watching the TCP socket once StartTLS wraps it, so the pool watches it itself.
      return open().once('close', onClose);
    };
    const client = new Client({
      url: this.settings.url,
      timeout: this.settings.timeoutMs,
      connectTimeout: this.settings.timeoutMs,
      ...(url.protocol === 'ldaps:'
        ? {
            tlsOptions,
            createSecureConnection: ((port: number, h: string, options: ConnectionOptions) =>
              once(() => tlsConnect(port, h, options))) as typeof tlsConnect,
          }
        : { createConnection: ((port: number, h: string) => once(() => netConnect(port, h))) as typeof netConnect }),
    });
    try {
      if (this.settings.startTls) await client.startTLS(tlsOptions);
      if (asServiceAccount && this.settings.bindDn !== undefined) {
        try {
          await client.bind(this.settings.bindDn, this.settings.bindPassword);
        } catch (err) {
          if (err instanceof InvalidCredentialsError) {
            throw new DirectoryUnavailableError(`the directory refused bind_dn ${this.settings.bindDn}: check bind_password`);
          }
          throw err;
        }
      }
      watches.set(client, watch);
      return client;
    } catch (err) {
      destroy(client);
      throw err;
    }
  }
}

/** Whether the directory closed a pooled connection, and who is waiting on it: an operation in flight fails at once rather than at its deadline. */
interface ConnectionWatch {
  closed: boolean;
  listeners: Set<() => void>;
}
const watches = new WeakMap<Client, ConnectionWatch>();

function isUsable(client: Client): boolean {
  return client.isConnected && watches.get(client)?.closed !== true;
}

function valuesOf(entry: Entry | undefined, attribute: string): string[] {
  if (entry === undefined) return [];
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const raw = key === undefined ? undefined : entry[key];
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v)).filter((v) => v.length > 0);
}

function destroy(client: Client): void {
  // unbind() writes an Unbind and closes the socket; on a dead socket it fails, which is fine.
  client.unbind().catch(() => undefined);
}

/**
 * A small pool with a deadline: a connection is lent to one operation at a
 * time, returned when the operation got an LDAP answer, and closed when it did
 * not (a timeout, a dropped socket), so no late reply reaches the next borrower.
 */
class ClientPool {
  private readonly idle: Client[] = [];
  private readonly waiters: Array<(client: Client | undefined) => void> = [];
  private open = 0;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly create: () => Promise<Client>,
  ) {}

  async use<T>(deadline: number, operation: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.acquire(deadline);
    let healthy = false;
    let timer: NodeJS.Timeout | undefined;
    let onClose: (() => void) | undefined;
    const watch = watches.get(client);
    try {
      const interrupted = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new DirectoryUnavailableError('no answer in time (timeout_ms)')),
          Math.max(0, deadline - Date.now()),
        );
        onClose = () => reject(new DirectoryUnavailableError('the directory closed the connection'));
        watch?.listeners.add(onClose);
      });
      const result = await Promise.race([operation(client), interrupted]);
      healthy = true;
      return result;
    } catch (err) {
      // An LDAP result (other than a timeout) means the connection itself is fine.
      healthy = err instanceof ResultCodeError;
      throw classify(err);
    } finally {
      clearTimeout(timer);
      if (onClose) watch?.listeners.delete(onClose);
      this.release(client, healthy && isUsable(client));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    for (const client of this.idle.splice(0)) destroy(client);
  }

  private async acquire(deadline: number): Promise<Client> {
    while (this.idle.length > 0) {
      const client = this.idle.pop() as Client;
      if (isUsable(client)) return client;
      this.open -= 1; // closed by the directory while idle
      destroy(client);
    }
    if (this.closed) throw new DirectoryUnavailableError('the server is shutting down');
    if (this.open < this.size) {
      this.open += 1;
      try {
        return await withDeadline(this.create(), deadline, (late) => late.then(destroy, () => undefined));
      } catch (err) {
        this.open -= 1;
        this.wakeNext();
        throw classify(err);
      }
    }
    const client = await new Promise<Client | undefined>((resolve) => {
      const timer = setTimeout(
        () => {
          const i = this.waiters.indexOf(handOver);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(undefined);
        },
        Math.max(0, deadline - Date.now()),
      );
      const handOver = (c: Client | undefined) => {
        clearTimeout(timer);
        resolve(c);
      };
      this.waiters.push(handOver);
    });
    if (client === undefined) {
      if (this.closed) throw new DirectoryUnavailableError('the server is shutting down');
      if (Date.now() >= deadline)
        throw new DirectoryUnavailableError(`all ${this.size} connections busy until timeout_ms (raise pool_size?)`);
      return this.acquire(deadline); // a slot was freed rather than a connection handed over
    }
    return client;
  }

  private release(client: Client, reusable: boolean): void {
    if (!reusable || this.closed) {
      this.open -= 1;
      destroy(client);
      this.wakeNext();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter(client);
    else this.idle.push(client);
  }

  /** A slot opened up: let the longest waiter open its own connection. */
  private wakeNext(): void {
    this.waiters.shift()?.(undefined);
  }
}

async function withDeadline<T>(work: Promise<T>, deadline: number, onLate: (work: Promise<T>) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        onLate(work);
        reject(new DirectoryUnavailableError('no connection in time (timeout_ms)'));
      },
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Anything that is not already a verdict becomes "unavailable", with what an operator needs to know. */
function classify(err: unknown): unknown {
  if (err instanceof DirectoryUnavailableError) return err;
  if (err instanceof ResultCodeError)
    return new DirectoryUnavailableError(`the directory answered ${err.name} (result ${err.code}): ${err.message}`);
  return new DirectoryUnavailableError(describeError(err));
}
