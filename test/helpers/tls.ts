/**
 * Real HTTPS for the SDK suites (test/sdk): the official client libraries
 * insist on https, so Latchkey serves a throw-away self-signed certificate
 * (DESIGN.md §2 `tls`) and each client trusts exactly that certificate
 * through its own hook. Nothing disables TLS verification and nothing
 * global changes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent as UndiciAgent, fetch as undiciFetch } from 'undici';
import { toJson, type JsonResponse } from './http.js';
import { freePort, startTestServer, type StartOptions, type TestServer } from './server.js';

/**
 * Why TLS suites cannot run here (no `openssl` on PATH), or undefined when
 * they can; callers pass it to `describe(..., { skip })` so the reason is printed.
 */
export function tlsUnavailableReason(): string | undefined {
  const probe = spawnSync('openssl', ['version'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) return 'the openssl CLI is not available to make a test certificate';
  return undefined;
}

export interface SelfSignedCertificate {
  certPath: string;
  keyPath: string;
  /** The certificate as PEM: the only CA the trusting clients accept. */
  certPem: string;
  remove(): void;
}

/** A P-256 self-signed certificate for 127.0.0.1 and localhost, valid one day, in a new temp dir. */
export function createSelfSignedCertificate(): SelfSignedCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-tls-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'pipe' },
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { certPath, keyPath, certPem: readFileSync(certPath, 'utf8'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The WHATWG fetch signature, as SDKs that accept a custom fetch call it. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * A fetch that verifies TLS against `caPem` only: undici's fetch with an
 * Agent whose `connect.ca` is the test certificate. Any `dispatcher` the
 * caller sets is replaced.
 */
export function trustingFetch(caPem: string): { fetch: Fetch; close(): Promise<void> } {
  const dispatcher = new UndiciAgent({ connect: { ca: caPem } });
  return {
    // The global RequestInit/Response types and undici's describe the same WHATWG objects but are nominally distinct.
    fetch: (input, init) =>
      undiciFetch(input as Parameters<typeof undiciFetch>[0], {
        ...(init as Parameters<typeof undiciFetch>[1]),
        dispatcher,
      }) as unknown as Promise<Response>,
    close: () => dispatcher.close(),
  };
}

/** A node:https Agent trusting `caPem` only, for libraries that fetch with https.get (jose 4, express-oauth2-jwt-bearer). */
export function trustingHttpsAgent(caPem: string): HttpsAgent {
  return new HttpsAgent({ ca: caPem });
}

export interface HttpsTestServer {
  server: TestServer;
  /** https://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  /** https://127.0.0.1:PORT/{tenant}/ — the issuer, trailing slash included. */
  issuer(tenant?: string): string;
  /** https://127.0.0.1:PORT/{tenant}{path} */
  at(path: string, tenant?: string): string;
  certPem: string;
  /** A fetch trusting the server's certificate. */
  fetch: Fetch;
  /** POSTs a form with the trusting fetch. */
  postForm(url: string, params: Record<string, string>): Promise<JsonResponse>;
  /** GETs with the trusting fetch. */
  get(url: string, headers?: Record<string, string>): Promise<JsonResponse>;
  close(): Promise<void>;
}

/**
 * A Latchkey server on HTTPS with a fresh self-signed certificate, and
 * public_url on the same port so every issuer and endpoint it advertises is
 * the https one. startTestServer's `extra` overrides its `listen` and
 * `public_url`, so the port is chosen here first.
 */
export async function startHttpsTestServer(startOptions: StartOptions | ((url: string) => StartOptions)): Promise<HttpsTestServer> {
  const cert = createSelfSignedCertificate();
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `https://${host}`;
  // A function when the tenant names its own URL (a client grant for the Management API, `{issuer}api/v2/`).
  const options = typeof startOptions === 'function' ? startOptions(url) : startOptions;
  let server: TestServer;
  try {
    server = await startTestServer({
      ...options,
      extra: { ...options.extra, public_url: url, listen: { host: '127.0.0.1', port }, tls: { cert: cert.certPath, key: cert.keyPath } },
    });
  } catch (err) {
    cert.remove();
    throw err;
  }
  const trusted = trustingFetch(cert.certPem);
  return {
    server,
    url,
    host,
    issuer: (tenant = 'acme') => `${url}/${tenant}/`,
    at: (path, tenant = 'acme') => `${url}/${tenant}${path}`,
    certPem: cert.certPem,
    fetch: trusted.fetch,
    postForm: async (target, params) =>
      toJson(
        await trusted.fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(params).toString(),
        }),
      ),
    get: async (target, headers = {}) => toJson(await trusted.fetch(target, { headers })),
    async close() {
      await trusted.close();
      await server.close();
      cert.remove();
    },
  };
}
