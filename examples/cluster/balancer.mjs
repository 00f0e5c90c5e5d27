#!/usr/bin/env node
/**
 * A round-robin HTTP load balancer for trying a Latchkey cluster on one
 * machine (docs/deploy.md); use nginx, HAProxy or your cloud's balancer in
 * production. It sends each request to the next node that is ready
 * (GET /readyz, checked every second) and adds X-Forwarded-For.
 *
 *   BALANCER_PORT=8080 NODES=http://127.0.0.1:3001,http://127.0.0.1:3002 node balancer.mjs
 */
import { createServer, request } from 'node:http';

const nodes = (process.env.NODES ?? 'http://127.0.0.1:3001,http://127.0.0.1:3002').split(',').map((u) => new URL(u));
const ready = new Set();
let next = 0;

async function check() {
  await Promise.all(
    nodes.map(async (node) => {
      try {
        const res = await fetch(new URL('/readyz', node), { signal: AbortSignal.timeout(900) });
        res.ok ? ready.add(node) : ready.delete(node);
      } catch {
        ready.delete(node);
      }
    }),
  );
}
setInterval(check, 1000).unref();
await check();

createServer((req, res) => {
  const live = nodes.filter((n) => ready.has(n));
  if (live.length === 0) {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end('{"error":"temporarily_unavailable","error_description":"no Latchkey node is ready"}');
    return;
  }
  const node = live[next++ % live.length];
  const headers = { ...req.headers, 'x-forwarded-for': [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ') };
  const upstream = request({ host: node.hostname, port: node.port, method: req.method, path: req.url, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"error":"temporarily_unavailable","error_description":"the node did not answer"}');
  });
  req.pipe(upstream);
}).listen(Number(process.env.BALANCER_PORT ?? 8080), '127.0.0.1', () => console.log(`balancer on :${process.env.BALANCER_PORT ?? 8080} → ${nodes.join(', ')}`));
