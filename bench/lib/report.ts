import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import type { ScenarioResult } from './load.js';
import type { RawRates } from './raw-rates.js';

export interface Machine {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
}

/** password req/s ÷ raw argon2 verify/s: how close the grant gets to its hashing ceiling. */
export interface PasswordRatio {
  readonly scenario: string;
  readonly connections: number;
  readonly requestsPerSecond: number;
  readonly argon2VerifyPerSecond: number;
  readonly ratio: number;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly command: string;
  readonly serverCommand: string;
  readonly machine: Machine;
  readonly durationSeconds: number;
  readonly storage: 'sqlite';
  readonly nodes: 1;
  readonly raw: RawRates;
  readonly scenarios: readonly ScenarioResult[];
  readonly passwordRatios: readonly PasswordRatio[];
}

export function describeMachine(): Machine {
  return {
    nproc: nproc(),
    cpuModel: cpuModel(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** The bench's own command line, quoted so it can be pasted back into a shell. */
export function benchCommandLine(): string {
  const line = [process.execPath, ...process.execArgv, ...process.argv.slice(1)].map(shellQuote).join(' ');
  // `npm run bench -- …` hides behind the node command line; say so.
  return process.env['npm_lifecycle_event'] === 'bench' ? `${line}  (via npm run bench)` : line;
}

export function passwordRatios(scenarios: readonly ScenarioResult[], raw: RawRates): PasswordRatio[] {
  const argon2 = raw.argon2Verify.perSecond;
  return scenarios
    .filter((s) => s.name.startsWith('password-') && s.setupError === undefined)
    .map((s) => ({
      scenario: s.name,
      connections: s.connections,
      requestsPerSecond: s.requestsPerSecond,
      argon2VerifyPerSecond: argon2,
      ratio: s.requestsPerSecond / argon2,
    }));
}

export function renderMarkdown(report: BenchReport): string {
  const sections = [
    ['# Latchkey token endpoint benchmark'],
    renderContext(report),
    renderTable(report.scenarios),
    renderRaw(report.raw),
    renderRatios(report.passwordRatios),
    renderProtectionCost(report.scenarios),
    renderHookCost(report.scenarios),
    renderErrors(report.scenarios),
  ];
  return sections
    .filter((lines) => lines.length > 0)
    .map((lines) => lines.join('\n'))
    .join('\n\n');
}

export async function writeJson(path: string, report: BenchReport): Promise<void> {
  // NaN (a percentile of nothing) becomes null, which is what JSON can say.
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
}

function renderContext(report: BenchReport): string[] {
  const m = report.machine;
  return [
    `- command: \`${report.command}\``,
    `- server: \`${report.serverCommand}\``,
    `- machine: ${m.nproc} CPUs (nproc), ${m.cpuModel}, node ${m.node}, ${m.platform}`,
    `- ${formatNumber(report.durationSeconds)} s per scenario, storage ${report.storage}, ${report.nodes} node, ` +
      `loopback, one undici Pool per scenario (keep-alive, one virtual user per connection), started ${report.startedAt}`,
  ];
}

function renderTable(scenarios: readonly ScenarioResult[]): string[] {
  const rows = scenarios.map((s) =>
    [
      s.name,
      String(s.connections),
      s.setupError === undefined ? formatNumber(s.requestsPerSecond) : 'n/a',
      formatNumber(s.p50Ms),
      formatNumber(s.p99Ms),
      s.requestsPerServerCpuSecond === undefined ? 'n/a' : formatNumber(s.requestsPerServerCpuSecond),
      s.setupError === undefined ? `${s.errors} / ${s.completed}` : 'set-up failed',
    ].join(' | '),
  );
  return [
    '| scenario | connections | req/s | p50 ms | p99 ms | req per server CPU-s | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => `| ${row} |`),
  ];
}

function renderRaw(raw: RawRates): string[] {
  const a = raw.argon2Verify;
  return [
    'Raw rates in the bench process, server idle:',
    '',
    `- ${a.params} verify, ${a.inFlight} in flight: ${formatNumber(a.perSecond)} /s ` +
      `(${a.operations} in ${formatNumber(a.seconds)} s, ${formatNumber(a.perCpuSecond)} per CPU-s)`,
    ...raw.sign.map(
      (s) =>
        `- jose SignJWT ${s.alg}, ${s.inFlight} in flight: ${formatNumber(s.perSecond)} signs/s, ` +
        `${formatNumber(s.perCpuSecond)} signs per bench CPU-s`,
    ),
  ];
}

/** password-16 against the same load on a tenant with attack protection off (issue #3: under 5%). */
function renderProtectionCost(scenarios: readonly ScenarioResult[]): string[] {
  const on = scenarios.find((s) => s.name === 'password-16' && s.setupError === undefined);
  const off = scenarios.find((s) => s.name === 'unprotected-password-16' && s.setupError === undefined);
  if (!on || !off || off.requestsPerSecond === 0) return [];
  const throughputCost = 1 - on.requestsPerSecond / off.requestsPerSecond;
  const lines = [
    'Attack protection cost on the password grant (16 connections):',
    '',
    `- throughput: ${formatNumber(on.requestsPerSecond)} req/s protected vs ${formatNumber(off.requestsPerSecond)} req/s unprotected = ${(throughputCost * 100).toFixed(1)}% cost`,
  ];
  if (on.requestsPerServerCpuSecond !== undefined && off.requestsPerServerCpuSecond !== undefined) {
    const cpuCost = off.requestsPerServerCpuSecond / on.requestsPerServerCpuSecond - 1;
    lines.push(
      `- server CPU per request: ${(1000 / on.requestsPerServerCpuSecond).toFixed(2)} ms protected vs ${(1000 / off.requestsPerServerCpuSecond).toFixed(2)} ms unprotected = ${(cpuCost * 100).toFixed(1)}% more`,
    );
  }
  return lines;
}

/** hooks-refresh-rs256 against refresh-rs256: what one post-login hook costs a request. */
function renderHookCost(scenarios: readonly ScenarioResult[]): string[] {
  const hooked = scenarios.find((s) => s.name === 'hooks-refresh-rs256' && s.setupError === undefined);
  const plain = scenarios.find((s) => s.name === 'refresh-rs256' && s.setupError === undefined);
  if (!hooked || !plain || plain.requestsPerSecond === 0) return [];
  const lines = [
    'Post-login hook cost on the refresh grant (one hook: a claim and a scope):',
    '',
    `- throughput: ${formatNumber(hooked.requestsPerSecond)} req/s with the hook vs ${formatNumber(plain.requestsPerSecond)} req/s without = ${((1 - hooked.requestsPerSecond / plain.requestsPerSecond) * 100).toFixed(1)}% cost`,
  ];
  if (hooked.requestsPerServerCpuSecond !== undefined && plain.requestsPerServerCpuSecond !== undefined) {
    lines.push(
      `- server CPU per request: ${(1000 / hooked.requestsPerServerCpuSecond).toFixed(2)} ms with vs ${(1000 / plain.requestsPerServerCpuSecond).toFixed(2)} ms without (the hook's worker thread included)`,
    );
  }
  return lines;
}

function renderRatios(ratios: readonly PasswordRatio[]): string[] {
  if (ratios.length === 0) return [];
  return [
    'Password grant ÷ raw argon2id verify rate:',
    '',
    ...ratios.map(
      (r) =>
        `- ${r.scenario}: ${formatNumber(r.requestsPerSecond)} req/s ÷ ` +
        `${formatNumber(r.argon2VerifyPerSecond)} verify/s = ${r.ratio.toFixed(2)}`,
    ),
  ];
}

function renderErrors(scenarios: readonly ScenarioResult[]): string[] {
  const lines = scenarios.flatMap(errorLines);
  return lines.length === 0 ? [] : ['Errors:', '', ...lines];
}

function errorLines(s: ScenarioResult): string[] {
  const lines: string[] = [];
  if (s.setupError !== undefined) lines.push(`- ${s.name}: ${s.setupError}`);
  if (s.firstError !== undefined) lines.push(`- ${s.name}: ${count(s.errors, 'error')}; first: ${s.firstError}`);
  if (s.recoveries > 0) {
    lines.push(`- ${s.name}: ${count(s.recoveries, 'refresh chain')} restarted inside the window`);
  }
  if (s.stoppedUsers > 0) {
    lines.push(`- ${s.name}: ${count(s.stoppedUsers, 'virtual user')} stopped; last: ${s.lastRecoveryError ?? '?'}`);
  }
  return lines;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** Three significant figures keep the table readable from 0.4 ms to 20,000 req/s. */
function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 100) return Math.round(value).toString();
  return Number(value.toPrecision(3)).toString();
}

function nproc(): number {
  try {
    const n = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
    if (Number.isInteger(n) && n > 0) return n;
  } catch {
    // nproc missing: Node's view of the same affinity mask will do.
  }
  return availableParallelism();
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1] !== undefined) return match[1].trim();
  } catch {
    // Not Linux: fall back below.
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
