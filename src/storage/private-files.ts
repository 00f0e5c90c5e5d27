/**
 * Files at rest readable by their owner only (issue #11 point 12): the data
 * directory is 0700 and what it holds (the SQLite database and its WAL and
 * shared-memory files, the generated master key, the demo credentials) is
 * 0600, so another account on the machine cannot copy token hashes, sealed
 * signing keys or security events. Existing files are never re-moded
 * silently (an operator may have granted a backup group on purpose): a
 * looser mode is reported with the command that tightens it.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const PRIVATE_DIRECTORY_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** Any permission for the group or for others. */
const GROUP_OR_OTHER_BITS = 0o077;

/**
 * `mkdir -p` where every directory it creates is 0700 (set explicitly: the
 * process umask could only narrow the mode, and a directory that already
 * exists is left as it is).
 */
export function makePrivateDirectory(dir: string): void {
  const missing: string[] = [];
  for (let current = resolve(dir); !existsSync(current); current = dirname(current)) {
    missing.push(current);
    if (dirname(current) === current) break;
  }
  if (missing.length === 0) return;
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  for (const created of missing) chmodSync(created, PRIVATE_DIRECTORY_MODE);
}

/**
 * Creates `path` empty with mode 0600 unless it exists, so a program that
 * opens it afterwards (SQLite, which gives its -wal and -shm files the
 * database file's mode) never creates it with the umask's 0644.
 */
export function createPrivateFile(path: string): void {
  if (existsSync(path)) return;
  try {
    closeSync(openSync(path, 'wx', PRIVATE_FILE_MODE));
  } catch (err) {
    // Another process created it between the check and the open: it is theirs to have moded.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return;
  }
  chmodSync(path, PRIVATE_FILE_MODE);
}

export interface LoosePermissions {
  /** The paths group or others may use, with their modes (`0644`). */
  paths: Array<{ path: string; mode: string }>;
  /** The shell command that makes them private: `chmod 700 DIR; chmod 600 FILE…`. */
  fix: string;
}

/** Of `dir` and those of `files` that exist, the ones not private to their owner; undefined when all are. */
export function loosePermissions(dir: string, files: readonly string[]): LoosePermissions | undefined {
  const loose = (path: string): { path: string; mode: string } | undefined => {
    const mode = statSync(path, { throwIfNoEntry: false })?.mode;
    if (mode === undefined || (mode & GROUP_OR_OTHER_BITS) === 0) return undefined;
    return { path, mode: `0${(mode & 0o777).toString(8)}` };
  };
  const looseDir = loose(dir);
  const looseFiles = files.map(loose).filter((entry) => entry !== undefined);
  if (!looseDir && looseFiles.length === 0) return undefined;
  const commands = [
    ...(looseDir ? [`chmod 700 ${shellQuote(looseDir.path)}`] : []),
    ...(looseFiles.length > 0 ? [`chmod 600 ${looseFiles.map((f) => shellQuote(f.path)).join(' ')}`] : []),
  ];
  return { paths: [...(looseDir ? [looseDir] : []), ...looseFiles], fix: commands.join('; ') };
}

/** A path as one POSIX shell word: bare when it holds only safe characters, else single-quoted. */
export function shellQuote(path: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}
