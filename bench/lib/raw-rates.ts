import { randomBytes, randomUUID } from 'node:crypto';
import { hash, verify, type Algorithm, type Options } from '@node-rs/argon2';
import { generateKeyPair, SignJWT } from 'jose';

/** A closed-loop rate measured in this process. */
export interface RawRate {
  readonly operations: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Bench-process CPU (all threads, user + system) spent during the window. */
  readonly cpuSeconds: number;
  /** Operations per bench-process CPU-second: the cost independent of core count. */
  readonly perCpuSecond: number;
}

export interface RawRates {
  readonly argon2Verify: RawRate & { readonly inFlight: number; readonly params: string };
  readonly sign: readonly (RawRate & { readonly alg: SignAlg; readonly inFlight: number })[];
}

export type SignAlg = 'RS256' | 'ES256';

const ARGON2_IN_FLIGHT = 2;
const SIGN_IN_FLIGHT = 4;
const SIGN_SECONDS = 2;

// `Algorithm` is a `const enum` in @node-rs/argon2's typings but an empty
// object at runtime, and tsx (esbuild) cannot inline ambient const enums:
// `Algorithm.Argon2id` would silently become `undefined`. Use the value.
const ARGON2ID: Algorithm = 2;
/** OWASP's argon2id profile, as DESIGN.md §6 prescribes for the server. */
const ARGON2_OPTIONS: Options = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const ARGON2_PHC_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';

/**
 * The ceilings the server's grants are measured against: how fast this
 * machine verifies argon2id and signs JWTs when nothing else runs.
 */
export async function measureRawRates(argon2Seconds: number): Promise<RawRates> {
  const argon2Verify = await measureArgon2Verify(argon2Seconds);
  const sign = [];
  for (const alg of ['RS256', 'ES256'] as const) sign.push(await measureSign(alg));
  return { argon2Verify, sign };
}

/**
 * Two verifications in flight, like two password grants arriving back to
 * back on two connections. Measured for as long as a scenario runs, so the
 * ratio compares like with like (a 3 s sample swung the ratio by ±0.04).
 */
async function measureArgon2Verify(seconds: number): Promise<RawRates['argon2Verify']> {
  const password = randomBytes(24).toString('base64url');
  const encoded = await hash(password, ARGON2_OPTIONS);
  if (!encoded.startsWith(ARGON2_PHC_PREFIX)) throw new Error(`unexpected argon2 parameters: ${encoded}`);
  const rate = await closedLoop(ARGON2_IN_FLIGHT, seconds, async () => {
    if (!(await verify(encoded, password))) throw new Error('argon2 verify rejected the right password');
  });
  return { ...rate, inFlight: ARGON2_IN_FLIGHT, params: 'argon2id m=19456 t=2 p=1' };
}

/** Signs access-token-shaped JWTs (RFC 9068 claims), as the token service would. */
async function measureSign(alg: SignAlg): Promise<RawRates['sign'][number]> {
  const { privateKey } = await generateKeyPair(alg);
  const kid = randomUUID();
  const rate = await closedLoop(SIGN_IN_FLIGHT, SIGN_SECONDS, async () => {
    await new SignJWT({ client_id: 'bench-app', scope: 'read:data' })
      .setProtectedHeader({ alg, typ: 'at+jwt', kid })
      .setIssuer('http://127.0.0.1/bench/')
      .setSubject('auth0|bench')
      .setAudience('https://api.bench')
      .setIssuedAt()
      .setExpirationTime('1h')
      .setJti(randomUUID())
      .sign(privateKey);
  });
  return { ...rate, alg, inFlight: SIGN_IN_FLIGHT };
}

/**
 * Keeps `inFlight` operations running back to back for `seconds`; the window
 * ends when the last one started before the deadline completes.
 */
async function closedLoop(inFlight: number, seconds: number, operation: () => Promise<void>): Promise<RawRate> {
  let operations = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      await operation();
      operations += 1;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    operations,
    seconds: elapsed,
    perSecond: operations / elapsed,
    cpuSeconds,
    perCpuSecond: cpuSeconds > 0 ? operations / cpuSeconds : 0,
  };
}
