#!/usr/bin/env node
/**
 * The `latchkey` executable. Password hashing (argon2id) and RS256 token
 * signing (node:crypto, tokens/jwt-signer.ts) both run on libuv's thread
 * pool. With more pool threads than cores they time-slice against each other
 * and thrash the caches argon2's 19 MiB blocks live in: on two cores a pool
 * of four cost 20% of password throughput, and one of three still cost 10%
 * (BENCHMARKS.md, issues #6 and #13). The pool is sized to the cores, and
 * this must happen before anything touches it: the ESM loader reads files
 * through the pool, so this shim is CommonJS and loads the real entry point
 * afterwards.
 * An operator's own UV_THREADPOOL_SIZE is respected.
 */
import os = require('node:os');

if (process.env.UV_THREADPOOL_SIZE === undefined) {
  process.env.UV_THREADPOOL_SIZE = String(Math.max(2, os.availableParallelism()));
}
void import('./main.js');
