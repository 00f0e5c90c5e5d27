/**
 * The master key encrypts private signing keys (and later TOTP secrets) at
 * rest and keys the client-secret hash. It comes from LATCHKEY_MASTER_KEY or
 * is generated once into the data directory, so the embedded default needs
 * no set-up; every node of a cluster must share it (docs/deploy.md).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePrivateDirectory, PRIVATE_FILE_MODE } from '../storage/private-files.js';

export const MASTER_KEY_FILE = 'master.key';

export class MasterKeyError extends Error {
  override name = 'MasterKeyError';
}

export interface MasterKeySource {
  masterKeyBase64: string | undefined;
  dataDir: string;
}

export interface LoadedMasterKey {
  key: Buffer;
  /** Set when the key was created by this call: the caller warns the operator. */
  generatedAt?: string;
}

export function decodeMasterKey(base64: string, origin: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== base64.replace(/=+$/, '')) {
    throw new MasterKeyError(`${origin} must be 32 random bytes in base64 (as \`openssl rand -base64 32\` prints them)`);
  }
  return key;
}

export function loadOrCreateMasterKey(source: MasterKeySource): LoadedMasterKey {
  if (source.masterKeyBase64 !== undefined) return { key: decodeMasterKey(source.masterKeyBase64, 'LATCHKEY_MASTER_KEY') };
  const file = join(source.dataDir, MASTER_KEY_FILE);
  if (existsSync(file)) return { key: decodeMasterKey(readFileSync(file, 'utf8').trim(), file) };
  makePrivateDirectory(source.dataDir);
  writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  chmodSync(file, PRIVATE_FILE_MODE);
  return { key: decodeMasterKey(readFileSync(file, 'utf8').trim(), file), generatedAt: file };
}
