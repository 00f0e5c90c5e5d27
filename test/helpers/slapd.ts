/**
 * A real OpenLDAP directory for the LDAP credential-source suites: Debian's
 * `slapd` (2.5), run by the test itself as a foreground child process in a
 * fresh temp dir, with its own slapd.conf (never the system's
 * /etc/ldap/slapd.d), its own throw-away CA and server certificate, and
 * loopback ports chosen per run. Nothing is mocked: binds, ppolicy
 * refusals (locked, expired, must-change), memberOf and ACLs are slapd's own.
 *
 * slapd is not part of the base image, so slapdUnavailableReason() installs
 * it with apt when it is missing (CI's .ci/run does it first, so the suites
 * don't spend their time on it). When that is impossible, the suites are
 * skipped and the reason is printed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { installWithApt, pidAlive, tail } from './apt-install.js';
import { freePort } from './server.js';

const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
const MODULE_DIR = '/usr/lib/ldap';
const SCHEMA_DIR = '/etc/ldap/schema';
const POLICY_RC_D = '/usr/sbin/policy-rc.d';

/** Whichever of the files the harness runs or loads is missing, if any. */
function missingFile(): string | undefined {
  const needed = [
    SLAPD,
    SLAPADD,
    ...['back_mdb', 'ppolicy', 'memberof'].map((m) => join(MODULE_DIR, `${m}.so`)),
    ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => join(SCHEMA_DIR, `${s}.schema`)),
  ];
  return needed.find((file) => !existsSync(file));
}

/**
 * Installs slapd and ldap-utils. The package's postinst would start a system
 * slapd on port 389 (and build a config in /etc/ldap/slapd.d): a
 * policy-rc.d that exits 101 forbids the start; ours is removed afterwards
 * (one already there, as in Docker images, is left alone). A system slapd
 * that started anyway (its pid file says so) is stopped: the harness never
 * uses it.
 */
function installSlapd(): string | undefined {
  return installWithApt({
    name: 'slapd',
    packages: ['slapd', 'ldap-utils'],
    missingFile,
    prepare() {
      if (existsSync(POLICY_RC_D)) return () => undefined;
      writeFileSync(POLICY_RC_D, '#!/bin/sh\n# latchkey test harness: no service starts during apt-get install\nexit 101\n', {
        mode: 0o755,
      });
      return () => rmSync(POLICY_RC_D, { force: true });
    },
    afterInstall: stopSystemSlapd,
  });
}

function stopSystemSlapd(): void {
  for (const pidFile of ['/run/slapd/slapd.pid', '/var/run/slapd/slapd.pid']) {
    let pid: number;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
    } catch {
      continue;
    }
    if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}

let unavailable: { reason: string | undefined } | undefined;

/**
 * Why the LDAP suites cannot run here, or undefined when they can. Installs
 * slapd first when it is missing (as root, with apt; synchronous, and
 * serialised across test files by a lock file). Callers pass the result to
 * `describe(name, { skip })`; a reason is also printed, once per process.
 */
export function slapdUnavailableReason(): string | undefined {
  if (unavailable === undefined) {
    let reason: string | undefined;
    if (missingFile() !== undefined) reason = installSlapd();
    if (reason === undefined) {
      const openssl = spawnSync('openssl', ['version'], { stdio: 'ignore' });
      if (openssl.error !== undefined || openssl.status !== 0) reason = 'the openssl CLI is not available to make the test CA for slapd';
    }
    if (reason !== undefined) console.log(`# SKIPPED LDAP suites: ${reason}`);
    unavailable = { reason };
  }
  return unavailable.reason;
}

const BASE_DN = 'dc=corp,dc=test';
const PEOPLE_DN = `ou=people,${BASE_DN}`;
const GROUPS_DN = `ou=groups,${BASE_DN}`;
const POLICY_DN = `cn=default,ou=policies,${BASE_DN}`;
const ADMIN = { dn: `cn=admin,${BASE_DN}`, password: 'admin-ldap-secret-1' };
const READER = { dn: `cn=reader,ou=services,${BASE_DN}`, password: 'reader-secret-1' };
const START_TIMEOUT_MS = 10_000;

export type SlapdUserName = 'alice' | 'bob' | 'carol' | 'dave' | 'erin' | 'frank';

export interface SlapdUser {
  dn: string;
  password: string;
  mail?: string;
}

export interface Slapd {
  /** ldap://127.0.0.1:P1 — plain, and StartTLS. */
  url: string;
  /** ldaps://127.0.0.1:P2 */
  ldapsUrl: string;
  /** The throw-away CA that signed slapd's certificate (127.0.0.1, localhost), as PEM and as a file. */
  caPem: string;
  caFile: string;
  baseDn: 'dc=corp,dc=test';
  peopleDn: 'ou=people,dc=corp,dc=test';
  /** The service account: reads people and groups (operational attributes included), never userPassword. */
  reader: { dn: string; password: string };
  /** The rootdn: no ACL applies to it. */
  admin: { dn: string; password: string };
  /**
   * alice (engineers, admins), bob (engineers) and frank (no group) bind
   * normally; carol is locked (pwdAccountLockedTime 000001010000Z), dave's
   * password has expired (no grace binds), erin must change hers (pwdReset).
   */
  users: Record<SlapdUserName, SlapdUser>;
  /** kill the process (SIGKILL) : the directory is down */
  stop(): Promise<void>;
  /** start again on the same ports and data */
  start(): Promise<void>;
  /** stop and delete the temp dir */
  close(): Promise<void>;
  /**
   * LDAP modify as admin through ldapts (e.g. to change a password or mail).
   * ppolicy applies: a userPassword set by the admin is stored hashed
   * (ppolicy_hash_cleartext), gets a fresh pwdChangedTime and, with
   * pwdMustChange, pwdReset: TRUE (the user must change it). For a password
   * the user can simply sign in with, delete pwdReset in a second call:
   * `modify(dn, [{ operation: 'delete', type: 'pwdReset', values: [] }])`.
   * Deleting pwdAccountLockedTime unlocks carol; pwdChangedTime itself is
   * not modifiable (NO-USER-MODIFICATION).
   */
  modify(dn: string, changes: Array<{ operation: 'replace' | 'add' | 'delete'; type: string; values: string[] }>): Promise<void>;
}

interface UserSeed {
  uid: SlapdUserName;
  cn: string;
  givenName: string;
  sn: string;
  mail: string;
  password: string;
  groups: string[];
  /** Extra LDIF lines: the ppolicy state. */
  state: string[];
}

const USER_SEEDS: UserSeed[] = [
  {
    uid: 'alice',
    cn: 'Alice Liddell',
    givenName: 'Alice',
    sn: 'Liddell',
    mail: 'alice@corp.test',
    password: 'alice-ldap-pass-1',
    groups: ['engineers', 'admins'],
    state: [],
  },
  {
    uid: 'bob',
    cn: 'Bob Builder',
    givenName: 'Bob',
    sn: 'Builder',
    mail: 'bob@corp.test',
    password: 'bob-ldap-pass-1',
    groups: ['engineers'],
    state: [],
  },
  // Locked "until an administrator unlocks" (the special 000001010000Z value).
  {
    uid: 'carol',
    cn: 'Carol Locked',
    givenName: 'Carol',
    sn: 'Locked',
    mail: 'carol@corp.test',
    password: 'carol-ldap-pass-1',
    groups: [],
    state: ['pwdAccountLockedTime: 000001010000Z'],
  },
  // Changed in 2000: far older than pwdMaxAge (one year), and no grace binds.
  {
    uid: 'dave',
    cn: 'Dave Expired',
    givenName: 'Dave',
    sn: 'Expired',
    mail: 'dave@corp.test',
    password: 'dave-ldap-pass-1',
    groups: [],
    state: ['pwdChangedTime: 20000101000000Z'],
  },
  // Reset by an administrator: pwdMustChange makes the user change it first.
  {
    uid: 'erin',
    cn: 'Erin Reset',
    givenName: 'Erin',
    sn: 'Reset',
    mail: 'erin@corp.test',
    password: 'erin-ldap-pass-1',
    groups: [],
    state: ['pwdReset: TRUE'],
  },
  {
    uid: 'frank',
    cn: 'Frank Plain',
    givenName: 'Frank',
    sn: 'Plain',
    mail: 'frank@corp.test',
    password: 'frank-ldap-pass-1',
    groups: [],
    state: [],
  },
];

const GROUP_SEEDS: Record<string, SlapdUserName[]> = { engineers: ['alice', 'bob'], admins: ['alice'] };

const userDn = (uid: string) => `uid=${uid},${PEOPLE_DN}`;
const groupDn = (cn: string) => `cn=${cn},${GROUPS_DN}`;

/** {SSHA}: base64(SHA-1(password ‖ salt) ‖ salt), as `slappasswd -s` makes it. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

function entry(dn: string, lines: string[]): string {
  return [`dn: ${dn}`, ...lines, ''].join('\n');
}

/**
 * The seed, loaded by slapadd before slapd starts. slapadd runs no
 * overlay, so memberOf (which the memberof overlay keeps up to date from
 * then on) and the ppolicy state attributes are written here directly.
 */
function seedLdif(): string {
  const entries = [
    entry(BASE_DN, ['objectClass: dcObject', 'objectClass: organization', 'dc: corp', 'o: Corp']),
    ...['people', 'groups', 'policies', 'services'].map((ou) =>
      entry(`ou=${ou},${BASE_DN}`, ['objectClass: organizationalUnit', `ou: ${ou}`]),
    ),
    entry(POLICY_DN, [
      'objectClass: organizationalRole',
      'objectClass: pwdPolicy',
      'cn: default',
      'pwdAttribute: userPassword',
      'pwdMaxAge: 31536000',
      'pwdMustChange: TRUE',
      'pwdLockout: TRUE',
      // High, so that wrong-password tests never lock alice or bob out.
      'pwdMaxFailure: 1000',
      'pwdGraceAuthNLimit: 0',
    ]),
    entry(READER.dn, [
      'objectClass: applicationProcess',
      'objectClass: simpleSecurityObject',
      'cn: reader',
      `userPassword: ${ssha(READER.password)}`,
    ]),
    ...USER_SEEDS.map((u) =>
      entry(userDn(u.uid), [
        'objectClass: inetOrgPerson',
        `uid: ${u.uid}`,
        `cn: ${u.cn}`,
        `givenName: ${u.givenName}`,
        `sn: ${u.sn}`,
        `mail: ${u.mail}`,
        `userPassword: ${ssha(u.password)}`,
        ...u.groups.map((g) => `memberOf: ${groupDn(g)}`),
        ...u.state,
      ]),
    ),
    ...Object.entries(GROUP_SEEDS).map(([cn, members]) =>
      entry(groupDn(cn), ['objectClass: groupOfNames', `cn: ${cn}`, ...members.map((m) => `member: ${userDn(m)}`)]),
    ),
  ];
  return entries.join('\n');
}

/** slapd.conf: the reader reads everything but userPassword, users may only bind with theirs (and change it). */
function slapdConf(dir: string): string {
  return `${['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${join(SCHEMA_DIR, `${s}.schema`)}`).join('\n')}
modulepath ${MODULE_DIR}
moduleload back_mdb
moduleload ppolicy
moduleload memberof
pidfile ${join(dir, 'slapd.pid')}
argsfile ${join(dir, 'slapd.args')}
TLSCACertificateFile ${join(dir, 'ca.pem')}
TLSCertificateFile ${join(dir, 'server.pem')}
TLSCertificateKeyFile ${join(dir, 'server.key')}

database mdb
maxsize 16777216
suffix "${BASE_DN}"
rootdn "${ADMIN.dn}"
rootpw ${ssha(ADMIN.password)}
directory ${join(dir, 'data')}
index objectClass eq
index uid,mail,cn eq
index member,memberOf eq

overlay memberof
overlay ppolicy
ppolicy_default "${POLICY_DN}"
ppolicy_use_lockout
ppolicy_hash_cleartext

access to attrs=userPassword
  by anonymous auth
  by self write
  by * none
access to dn.subtree="${BASE_DN}"
  by dn.exact="${READER.dn}" read
  by self read
  by * none
`;
}

function run(command: string, args: string[], what: string): void {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(
      `${what} failed (${command} ${args.join(' ')}): ${result.error ?? `exit ${result.status}`}\n${tail(`${result.stdout}${result.stderr}`)}`,
    );
  }
}

/** A throw-away CA and a server certificate for 127.0.0.1 / localhost that it signed (P-256, one day). */
function makeCertificates(dir: string): void {
  const at = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(
    'openssl',
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      at('ca.key'),
      '-out',
      at('ca.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=Latchkey test LDAP CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    'making the test CA',
  );
  run('openssl', ['req', ...ec, '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=127.0.0.1'], 'making the slapd key');
  writeFileSync(
    at('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  run(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      at('server.csr'),
      '-CA',
      at('ca.pem'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      at('server.ext'),
      '-out',
      at('server.pem'),
    ],
    'signing the slapd certificate',
  );
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every slapd this process started and has not stopped, and their dirs: cleaned up if the test process exits first. */
const running = new Set<ChildProcess>();
const dirs = new Set<string>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Whether setpriv can make slapd die with this process even if it is SIGKILLed (PR_SET_PDEATHSIG). */
const canPdeathsig = (() => {
  const probe = spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
})();

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function spawnSlapd(dir: string, urls: string): Running {
  const args = ['-d', '0', '-h', urls, '-f', join(dir, 'slapd.conf')];
  const child = canPdeathsig
    ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', SLAPD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(SLAPD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  running.add(child);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  return { child, output: () => output, exited };
}

/**
 * Resolves once slapd answers a bind as the reader on the plain port (so the
 * database and ACLs are loaded, not just the socket open); rejects when
 * slapd exits or after START_TIMEOUT_MS, with slapd's output.
 */
async function waitForSlapd(proc: Running, url: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exitCode: number | null | undefined;
  void proc.exited.then((code) => (exitCode = code));
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`slapd exited (${exitCode ?? 'signal'}) before accepting connections:\n${tail(proc.output())}`);
    const client = new Client({ url, connectTimeout: 1000, timeout: 2000 });
    try {
      await client.bind(READER.dn, READER.password);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ECONNREFUSED' && code !== 'ECONNRESET')
        throw new Error(`slapd did not accept the reader's bind: ${String(err)}\n${tail(proc.output())}`);
    } finally {
      await client.unbind().catch(() => undefined);
    }
    if (Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      throw new Error(`slapd did not accept connections on ${url} within ${START_TIMEOUT_MS} ms:\n${tail(proc.output())}`);
    }
    await delay(20);
  }
}

/**
 * Starts a private slapd (see the top of this file) seeded with the
 * fixture directory, and resolves once it answers binds. Call
 * slapdUnavailableReason() first (it installs slapd when it can).
 */
export async function startSlapd(): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-slapd-'));
  dirs.add(dir);
  let proc: Running | undefined;
  try {
    mkdirSync(join(dir, 'data'));
    makeCertificates(dir);
    writeFileSync(join(dir, 'slapd.conf'), slapdConf(dir));
    writeFileSync(join(dir, 'seed.ldif'), seedLdif());
    run(SLAPADD, ['-q', '-f', join(dir, 'slapd.conf'), '-l', join(dir, 'seed.ldif')], 'slapadd of the seed directory');

    // The ports are free when picked but may be taken before slapd binds them: pick again then.
    let url = '';
    let ldapsUrl = '';
    for (let attempt = 1; ; attempt++) {
      url = `ldap://127.0.0.1:${await freePort()}`;
      ldapsUrl = `ldaps://127.0.0.1:${await freePort()}`;
      proc = spawnSlapd(dir, `${url}/ ${ldapsUrl}/`);
      try {
        await waitForSlapd(proc, url);
        break;
      } catch (err) {
        proc.child.kill('SIGKILL');
        await proc.exited;
        if (attempt >= 3 || !/errno=98|Address already in use/.test(proc.output())) throw err;
      }
    }

    const caFile = join(dir, 'ca.pem');
    const users = Object.fromEntries(USER_SEEDS.map((u) => [u.uid, { dn: userDn(u.uid), password: u.password, mail: u.mail }])) as Record<
      SlapdUserName,
      SlapdUser
    >;
    const stop = async () => {
      const current = proc;
      proc = undefined;
      if (current === undefined) return;
      current.child.kill('SIGKILL');
      await current.exited;
    };
    return {
      url,
      ldapsUrl,
      caPem: readFileSync(caFile, 'utf8'),
      caFile,
      baseDn: BASE_DN,
      peopleDn: PEOPLE_DN,
      reader: { ...READER },
      admin: { ...ADMIN },
      users,
      stop,
      async start() {
        if (proc !== undefined) return;
        // Same ports: slapd sets SO_REUSEADDR, but a port can still be busy for a moment after the kill.
        for (let attempt = 1; ; attempt++) {
          const next = spawnSlapd(dir, `${url}/ ${ldapsUrl}/`);
          try {
            await waitForSlapd(next, url);
            proc = next;
            return;
          } catch (err) {
            next.child.kill('SIGKILL');
            await next.exited;
            if (attempt >= 5) throw err;
            await delay(200);
          }
        }
      },
      async close() {
        await stop();
        rmSync(dir, { recursive: true, force: true });
        dirs.delete(dir);
      },
      async modify(dn, changes) {
        const client = new Client({ url, connectTimeout: 2000, timeout: 5000 });
        try {
          await client.bind(ADMIN.dn, ADMIN.password);
          await client.modify(
            dn,
            changes.map((c) => new Change({ operation: c.operation, modification: new Attribute({ type: c.type, values: c.values }) })),
          );
        } finally {
          await client.unbind().catch(() => undefined);
        }
      },
    };
  } catch (err) {
    if (proc !== undefined) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
    throw err;
  }
}
