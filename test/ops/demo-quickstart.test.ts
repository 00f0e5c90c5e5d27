/**
 * The quick start (DESIGN.md §1): the built `latchkey` bin run with no
 * configuration in an empty directory serves the demo tenant and prints, on
 * a plain line of its own starting with `curl`, a command that works when
 * pasted: run through bash, it returns an access token, a refresh token and
 * an id_token. Nothing secret is hard-coded: the demo credentials and the
 * master key are generated on first run into ./data with mode 0600, and a
 * second start reuses both (same credentials, same key, and a refresh token
 * from the first run still works). Its log says that no configuration was
 * named and the demo tenant is served (only `serve` falls back to it: issue
 * #15 point 6).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI_DIST, REPO_ROOT, RunningProcess, runProcess, waitForOk } from '../helpers/cli-process.js';
import { decodeJwt, postForm } from '../helpers/http.js';
import { freePort } from '../helpers/server.js';

const curlMissing = spawnSync('curl', ['--version']).status !== 0;
if (curlMissing) console.log('# demo quick start: skipped, curl is not installed on this machine');

interface DemoCredentials {
  client_id: string;
  client_secret: string;
  username: string;
  password: string;
}

describe('demo quick start (npm start)', { skip: curlMissing ? 'curl is not installed on this machine' : false }, () => {
  let cwd: string;
  const running: RunningProcess[] = [];
  let firstRun: { credentials: string; masterKey: string; refreshToken: string } | undefined;

  before(async () => {
    // The bin is dist/cli/bin.cjs: build it from the current sources.
    const build = await runProcess(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      timeoutMs: 180_000,
    });
    assert.equal(build.code, 0, `npm run build failed:\n${build.stdout}\n${build.stderr}`);
    cwd = mkdtempSync(join(tmpdir(), 'latchkey-demo-'));
  });

  after(async () => {
    for (const proc of running) await proc.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  /** Starts the bin in the temp dir, returns the process and its curl line. */
  async function startDemo(): Promise<{ proc: RunningProcess; curl: string; port: number }> {
    const port = await freePort();
    const proc = RunningProcess.start(process.execPath, [CLI_DIST, 'serve', '--port', String(port)], { cwd });
    running.push(proc);
    const curl = await proc.waitForLine((line) => line.startsWith('curl'), 30_000);
    await waitForOk(`http://127.0.0.1:${port}/readyz`, 10_000, proc);
    return { proc, curl, port };
  }

  function runCurl(line: string): Record<string, unknown> {
    // Exactly the printed line, as a user would paste it.
    const result = spawnSync('bash', ['-c', line], { cwd, encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, `curl failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  }

  async function stop(proc: RunningProcess): Promise<void> {
    proc.child.kill('SIGTERM');
    assert.deepEqual(await proc.exited, { code: 0, signal: null }, proc.describe());
  }

  function mode(path: string): number {
    return statSync(path).mode & 0o777;
  }

  it('first start: prints a working curl line, with secrets generated into ./data (mode 0600)', async () => {
    const { proc, curl } = await startDemo();
    assert.ok(!curl.startsWith('{'), 'a plain line, not a JSON log line');

    const tokens = runCurl(curl);
    assert.equal(typeof tokens.access_token, 'string', JSON.stringify(tokens));
    assert.equal(typeof tokens.refresh_token, 'string', JSON.stringify(tokens));
    assert.equal(typeof tokens.id_token, 'string', JSON.stringify(tokens));
    assert.equal(tokens.token_type, 'Bearer');

    const credentialsFile = join(cwd, 'data', 'demo-credentials.json');
    const masterKeyFile = join(cwd, 'data', 'master.key');
    assert.equal(mode(credentialsFile), 0o600, 'demo-credentials.json is private');
    assert.equal(mode(masterKeyFile), 0o600, 'master.key is private');
    const credentials = JSON.parse(readFileSync(credentialsFile, 'utf8')) as DemoCredentials;
    assert.ok(
      curl.includes(credentials.password) && curl.includes(credentials.client_secret),
      'the curl line carries the generated credentials',
    );
    assert.ok(credentials.password.length >= 12 && credentials.client_secret.length >= 24, 'random, not a fixed demo value');
    assert.equal(decodeJwt(tokens.id_token as string).payload.aud, credentials.client_id);
    assert.equal(Buffer.from(readFileSync(masterKeyFile, 'utf8').trim(), 'base64').length, 32);
    assert.ok(
      proc.stdoutLines.some((line) => /generated a new master key/.test(line)),
      'the operator is warned that a master key was generated',
    );
    assert.equal(
      proc.logsWithMessage('no configuration (--config or LATCHKEY_CONFIG): serving the demo tenant from ./data').length,
      1,
      'the log says the demo tenant is served for want of a configuration',
    );

    firstRun = {
      credentials: readFileSync(credentialsFile, 'utf8'),
      masterKey: readFileSync(masterKeyFile, 'utf8'),
      refreshToken: tokens.refresh_token as string,
    };
    await stop(proc);
  });

  it('second start reuses the generated credentials and master key', async () => {
    assert.ok(firstRun, 'the first start ran');
    const { proc, curl, port } = await startDemo();
    const credentialsFile = join(cwd, 'data', 'demo-credentials.json');
    const masterKeyFile = join(cwd, 'data', 'master.key');
    assert.equal(readFileSync(credentialsFile, 'utf8'), firstRun.credentials, 'same demo credentials');
    assert.equal(readFileSync(masterKeyFile, 'utf8'), firstRun.masterKey, 'same master key');
    assert.equal(mode(credentialsFile), 0o600);
    assert.equal(mode(masterKeyFile), 0o600);
    assert.ok(!proc.stdoutLines.some((line) => /generated a new master key/.test(line)), 'no new master key');

    const tokens = runCurl(curl);
    assert.equal(typeof tokens.access_token, 'string', JSON.stringify(tokens));
    assert.equal(typeof tokens.id_token, 'string', JSON.stringify(tokens));

    // State and keys carried over: the first run's refresh token is honoured.
    const credentials = JSON.parse(firstRun.credentials) as DemoCredentials;
    const refreshed = await postForm(`http://127.0.0.1:${port}/demo/oauth/token`, {
      grant_type: 'refresh_token',
      refresh_token: firstRun.refreshToken,
      client_id: credentials.client_id,
      client_secret: credentials.client_secret,
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    await stop(proc);
  });
});
