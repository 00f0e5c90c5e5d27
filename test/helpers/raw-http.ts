/**
 * HTTP/1.1 over a bare TCP socket, for what fetch and node:http will not
 * send: request lines and paths byte for byte, no Host, hundreds of
 * header fields, a request that stops half-way. Waiting is bounded by the
 * socket closing or the test's own timeout, never a sleep.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** Everything the server sent before it closed the connection. */
  raw: string;
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** Parses one response (Content-Length framing, as every answer of the server has). */
export function parseRawResponse(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? NaN);
  const rest = end < 0 ? '' : raw.slice(end + 4);
  return {
    raw,
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0),
    headers,
    body: Number.isNaN(length) ? rest : rest.slice(0, length),
  };
}

/** Opens a TCP connection to the host and port of `baseUrl`. */
export function openSocket(baseUrl: string): Promise<Socket> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with everything received once the server closes the connection. */
export function readUntilClosed(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    // A reset (the server destroying the socket after its answer) ends the exchange too.
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(received));
  });
}

/** Sends `request` exactly as given and returns the response the server sends before closing. */
export async function rawExchange(baseUrl: string, request: string): Promise<RawResponse> {
  const socket = await openSocket(baseUrl);
  const closed = readUntilClosed(socket);
  socket.write(request, 'latin1');
  return parseRawResponse(await closed);
}

/** A GET with `Connection: close`, the path sent byte for byte (fetch would percent-encode it). */
export function rawGet(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const { host } = new URL(baseUrl);
  const lines = Object.entries({ host, connection: 'close', ...headers }).map(([name, value]) => `${name}: ${value}\r\n`);
  return rawExchange(baseUrl, `GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`);
}

/** A form POST with `Connection: close`, the path sent byte for byte. */
export function rawPostForm(baseUrl: string, path: string, form: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const { host } = new URL(baseUrl);
  const all = {
    host,
    connection: 'close',
    'content-type': 'application/x-www-form-urlencoded',
    'content-length': String(Buffer.byteLength(form)),
    ...headers,
  };
  const lines = Object.entries(all).map(([name, value]) => `${name}: ${value}\r\n`);
  return rawExchange(baseUrl, `POST ${path} HTTP/1.1\r\n${lines.join('')}\r\n${form}`);
}
