#!/usr/bin/env node
/**
 * A tiny custom credential validator for Latchkey's `type: http` connections:
 * users sign in with a username and a PIN (PingFederate's "username / PIN"
 * validator). It checks Latchkey's HMAC signature and timestamp, then answers
 * `{valid, user}` or `{valid: false, reason}`.
 *
 *   VALIDATOR_SECRET=… PORT=4100 USERS_FILE=users.json node examples/pin-validator/server.mjs
 *
 * With TLS_CERT and TLS_KEY (PEM files) it serves HTTPS; Latchkey trusts a
 * private CA through the connection's `tls_ca`.
 *
 * users.json: { "joe": { "pin": "4321", "name": "Joe", "email": "joe@example.test" },
 *               "old":  { "pin": "1111", "status": "password_expired" } }
 * A user may also have "delay_ms" (to try Latchkey's timeout_ms).
 *
 * Latchkey's side (latchkey.yaml, under a tenant's connections):
 *   - name: pins
 *     type: http
 *     url: http://127.0.0.1:4100/verify   # https:// unless on the same host
 *     secret: the-same-VALIDATOR_SECRET
 *     tls_ca: ./validator-ca.pem          # optional: a private CA for an https:// validator
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

const secret = process.env.VALIDATOR_SECRET;
if (!secret || secret.length < 16) {
  console.error('pin-validator: set VALIDATOR_SECRET (at least 16 characters), the secret of the Latchkey connection');
  process.exit(1);
}
const users = JSON.parse(readFileSync(process.env.USERS_FILE ?? new URL('./users.example.json', import.meta.url), 'utf8'));
const MAX_SKEW_SECONDS = 300;

function equal(a, b) {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function answer(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

const tls = process.env.TLS_CERT && process.env.TLS_KEY ? { cert: readFileSync(process.env.TLS_CERT), key: readFileSync(process.env.TLS_KEY) } : undefined;
const handler = (req, res) => {
  if (req.method !== 'POST' || req.url !== '/verify') return answer(res, 404, { error: 'POST /verify' });
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > 16 * 1024) req.destroy();
    else chunks.push(chunk);
  });
  req.on('end', async () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const timestamp = String(req.headers['x-latchkey-timestamp'] ?? '');
    const signature = String(req.headers['x-latchkey-signature'] ?? '');
    const expected = `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
    // Signed by Latchkey, and recently: a captured request cannot be replayed later.
    if (!equal(signature, expected) || Math.abs(Date.now() / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS) {
      return answer(res, 401, { error: 'bad signature' });
    }
    let request;
    try {
      request = JSON.parse(body);
    } catch {
      return answer(res, 400, { error: 'not JSON' });
    }
    const user = Object.hasOwn(users, request.username) ? users[request.username] : undefined;
    if (user?.delay_ms) await new Promise((resolve) => setTimeout(resolve, user.delay_ms));
    if (!user) return answer(res, 200, { valid: false, reason: 'unknown_user' });
    if (!equal(String(request.password ?? ''), user.pin)) return answer(res, 200, { valid: false, reason: 'wrong_password' });
    if (user.status) return answer(res, 200, { valid: false, reason: user.status });
    return answer(res, 200, { valid: true, user: { name: user.name, email: user.email, email_verified: Boolean(user.email) } });
  });
};
const server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);

const port = Number(process.env.PORT ?? 4100);
server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  console.log(`pin-validator listening on ${tls ? 'https' : 'http'}://${process.env.HOST ?? '127.0.0.1'}:${server.address().port}/verify`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
