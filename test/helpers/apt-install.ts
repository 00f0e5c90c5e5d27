/**
 * Installs a Debian package the test setup needs (slapd for the LDAP suites,
 * chromium for the browser suites) when it is missing, so a fresh machine
 * runs every suite without a manual step. CI's .ci/run installs them first;
 * this is the fallback for a developer's machine or container.
 *
 * Every install of every helper takes one cross-process lock: test files
 * run in parallel, and two `apt-get update`s at once fail, since apt waits
 * for dpkg's locks (DPkg::Lock::Timeout) but not for the lists lock.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const INSTALL_LOCK = join(tmpdir(), 'latchkey-apt-install.lock');
const LOCK_TIMEOUT_MS = 900_000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The end of a command's output, for an error message. */
export function tail(text: string, max = 1500): string {
  const trimmed = text.trim();
  return trimmed.length > max ? `…${trimmed.slice(-max)}` : trimmed;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the cross-process install lock (a file created with O_EXCL holding
 * our pid), so two test files starting in parallel don't both run apt. A
 * lock left by a dead process is taken over. Returns false on timeout.
 */
function acquireInstallLock(timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(INSTALL_LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(INSTALL_LOCK, 'utf8'));
    } catch {
      continue; // released between our open and read
    }
    if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
      rmSync(INSTALL_LOCK, { force: true });
      continue;
    }
    if (Date.now() > deadline) return false;
    sleepSync(250);
  }
}

let aptUpdated = false;

function apt(args: string[]): { ok: boolean; output: string } {
  const run = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 600_000,
  });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}`;
  return { ok: run.error === undefined && run.status === 0, output };
}

export interface AptInstall {
  /** What the messages call it: `slapd is not installed and …`. */
  name: string;
  /** The Debian packages, installed with --no-install-recommends; the first is the one named when there is no apt-get. */
  packages: readonly string[];
  /** The first file the suites need that is missing, or undefined when all are there (asked again once the lock is held). */
  missingFile: () => string | undefined;
  /** Runs with the lock held, just before apt-get; what it returns runs afterwards, whatever happened. */
  prepare?: () => () => void;
  /** Runs after a successful apt-get install, before the files are checked again. */
  afterInstall?: () => void;
}

/**
 * Installs the packages with apt-get (as root; synchronous, and serialised
 * across test processes by the lock file). Returns why it could not, or
 * undefined once every needed file is there.
 */
export function installWithApt(spec: AptInstall): string | undefined {
  const { name, packages } = spec;
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return `${name} is not installed and the tests do not run as root to install it (apt-get install ${packages.join(' ')})`;
  const probe = spawnSync('apt-get', ['--version'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0)
    return `${name} is not installed and there is no apt-get to install it (Debian package ${packages[0]})`;
  if (!acquireInstallLock(LOCK_TIMEOUT_MS)) return `${name} is not installed and another process has held ${INSTALL_LOCK} for 15 minutes`;
  let undo: (() => void) | undefined;
  try {
    if (spec.missingFile() === undefined) return undefined; // another test file installed it while we waited
    undo = spec.prepare?.();
    if (!aptUpdated) {
      const update = apt(['update']);
      if (!update.ok) return `apt-get update failed, so ${name} cannot be installed:\n${tail(update.output)}`;
      aptUpdated = true;
    }
    const install = apt(['install', '-y', '--no-install-recommends', ...packages]);
    if (!install.ok) return `apt-get install ${packages.join(' ')} failed:\n${tail(install.output)}`;
    spec.afterInstall?.();
    const missing = spec.missingFile();
    return missing === undefined ? undefined : `${name} was installed but ${missing} is missing`;
  } finally {
    undo?.();
    rmSync(INSTALL_LOCK, { force: true });
  }
}
