// Types for server.mjs, so TypeScript callers (the test suite, your own
// server) can import createApi and createVerifier with strict checking.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTPayload, RemoteJWKSetOptions } from 'jose';

/** The algorithms a Latchkey API may sign with. */
export declare const ALGORITHMS: readonly ['RS256', 'ES256', 'EdDSA'];

export interface VerifierOptions {
  /** The tenant's issuer, trailing slash included; compared byte for byte. */
  issuer: string;
  /** The API identifier (or identifiers) the token must be for. */
  audience: string | string[];
  /** Default: `${issuer}.well-known/jwks.json`. */
  jwksUrl?: string | URL;
  /** Seconds; default 5. */
  clockTolerance?: number;
  jwksOptions?: RemoteJWKSetOptions;
}

export interface ApiLogEntry {
  method: string | undefined;
  path: string;
  status: number;
  reason?: string;
}

export interface ApiOptions extends VerifierOptions {
  /** One entry per request; never the token or a header. */
  log?: (entry: ApiLogEntry) => void;
}

/** Resolves to the token's claims, or rejects (jose error, or keys unavailable). */
export declare function createVerifier(options: VerifierOptions): (token: string) => Promise<JWTPayload>;

/** A node:http request handler serving /api/public, /api/private, /api/private-scoped and /api/write. */
export declare function createApi(options: ApiOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
