import { readFileSync } from 'node:fs';
import { ConfigError } from '../../config/load.js';

/**
 * A connection's `tls_ca`, read at start-up so a missing or wrong file stops
 * the server with its path instead of failing every sign-in later.
 */
export function readTrustedCa(caFile: string, connectionName: string): string {
  let pem: string;
  try {
    pem = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new ConfigError(`connection ${connectionName}`, [
      `tls_ca: cannot read ${caFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    ]);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError(`connection ${connectionName}`, [`tls_ca: ${caFile} holds no PEM certificate`]);
  return pem;
}
