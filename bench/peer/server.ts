/**
 * The bench's peer (issue #13): `@node-oauth/oauth2-server` 5 behind bare
 * `node:http`, everything in memory, serving POST /oauth/token for the
 * password, refresh_token (rotating) and client_credentials grants with
 * RS256 JWT access tokens. `npm run bench -- --peer` starts it as its own
 * process (bench/lib/peer.ts) so its CPU is read from /proc like Latchkey's.
 *
 *   node --import tsx bench/peer/server.ts SETTINGS.json
 *
 * SETTINGS.json holds the client and user (contract.ts `PeerSettings`). Once
 * ready the peer prints one line, `peer listening on http://127.0.0.1:PORT`,
 * and nothing per request. SIGTERM or SIGINT stops it.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OAuth2Server from '@node-oauth/oauth2-server';
import { PEER_READY_PREFIX, PEER_TOKEN_PATH, type PeerSettings } from './contract.js';
import { ACCESS_TOKEN_LIFETIME_SECONDS, PeerState, RequestModel } from './model.js';

/** Far above any bench form; a bigger body is refused rather than buffered. */
const MAX_BODY_BYTES = 16 * 1024;

const TOKEN_OPTIONS = {
  accessTokenLifetime: ACCESS_TOKEN_LIFETIME_SECONDS,
  // Rotation: the redeemed refresh token is revoked and a new one issued.
  alwaysIssueNewRefreshToken: true,
} as const;

async function main(settingsPath: string | undefined): Promise<void> {
  if (settingsPath === undefined) throw new Error('usage: server.ts SETTINGS.json');
  const settings = parseSettings(readFileSync(settingsPath, 'utf8'));
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const state = await PeerState.create(settings, `${origin}/`);
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    handle(state, request, response).catch((error: unknown) => {
      // Only a bug here gets this far; the answer is a bare 500 and the bench counts it as an error.
      process.stderr.write(`peer: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  // Nothing to save (all in memory) and nothing to drain: the bench stops the load first.
  const stop = (): never => process.exit(0);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`${PEER_READY_PREFIX}${origin}\n`);
}

async function handle(state: PeerState, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.url !== PEER_TOKEN_PATH) return reply(response, 404, { error: 'not_found' });
  const body = await readForm(request);
  if (body === undefined) return reply(response, 413, { error: 'invalid_request', error_description: 'body too large' });
  const oauthRequest = new OAuth2Server.Request({ method: request.method ?? 'GET', headers: flatHeaders(request), query: {}, body });
  const oauthResponse = new OAuth2Server.Response();
  // The library's token() assembles its options per call anyway; a server per
  // request is how the model learns the request's audience (model.ts).
  const oauth = new OAuth2Server({ ...TOKEN_OPTIONS, model: new RequestModel(state, body.audience) });
  try {
    await oauth.token(oauthRequest, oauthResponse);
  } catch (error) {
    // The library has already put the OAuth error into the response; anything else is a bug.
    if (!(error instanceof OAuth2Server.OAuthError)) throw error;
  }
  reply(response, oauthResponse.status ?? 500, oauthResponse.body, oauthResponse.headers);
}

function reply(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  response.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  response.end(json);
}

/** The form body as the library expects it (`request.body.*`); undefined when over the size cap. */
async function readForm(request: IncomingMessage): Promise<Record<string, string> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(buffer);
  }
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

/** node:http gives repeated headers as arrays; the library's Request wants strings. */
function flatHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function parseSettings(text: string): PeerSettings {
  const parsed: unknown = JSON.parse(text);
  const field = (name: keyof PeerSettings): string => {
    const value = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)[name] : undefined;
    if (typeof value !== 'string' || value === '') throw new Error(`settings: ${name} must be a non-empty string`);
    return value;
  };
  return { clientId: field('clientId'), clientSecret: field('clientSecret'), username: field('username'), password: field('password') };
}

main(process.argv[2]).catch((error: unknown) => {
  process.stderr.write(`peer: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
