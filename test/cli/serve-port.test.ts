/**
 * `latchkey serve --port` (issue #15 point 7: it was ignored with --config):
 * it wins over the file's listen.port and over LATCHKEY_LISTEN_PORT, the
 * default public_url (hence every issuer) follows it, an explicit public_url
 * is kept; a port that is not 1-65535 stops the command with one line naming
 * --port, never a stack trace.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RunningProcess, hasStackTrace, runCli, tsxCliArgs, waitForOk, writeYamlConfig } from '../helpers/cli-process.js';
import { get } from '../helpers/http.js';
import { freePort } from '../helpers/server.js';

const MASTER_KEY = randomBytes(32).toString('base64');

describe('serve --port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-serve-port-'));
  const running: RunningProcess[] = [];
  after(async () => {
    for (const proc of running) await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function configWith(extra: Record<string, unknown>, name: string): Promise<{ file: string; filePort: number }> {
    const filePort = await freePort();
    const file = writeYamlConfig(
      dir,
      {
        listen: { host: '127.0.0.1', port: filePort },
        database: `sqlite:${join(dir, `${name}.db`)}`,
        tenants: [{ name: 'acme' }],
        ...extra,
      },
      `${name}.yaml`,
    );
    return { file, filePort };
  }

  function serve(args: string[], env: Record<string, string> = {}): RunningProcess {
    const proc = RunningProcess.start(process.execPath, tsxCliArgs(['serve', ...args]), {
      env: { LATCHKEY_MASTER_KEY: MASTER_KEY, ...env },
    });
    running.push(proc);
    return proc;
  }

  it('wins over listen.port and LATCHKEY_LISTEN_PORT, and the default public_url follows it', async () => {
    const { file, filePort } = await configWith({}, 'derived');
    const port = await freePort();
    const envPort = await freePort();
    const server = serve(['--config', file, '--port', String(port)], { LATCHKEY_LISTEN_PORT: String(envPort) });
    await waitForOk(`http://127.0.0.1:${port}/healthz`, 30_000, server);
    const discovery = await get(`http://127.0.0.1:${port}/acme/.well-known/openid-configuration`);
    assert.equal(discovery.body.issuer, `http://127.0.0.1:${port}/acme/`, discovery.text);
    for (const unused of [filePort, envPort]) {
      await assert.rejects(fetch(`http://127.0.0.1:${unused}/healthz`), `nothing listens on ${unused}`);
    }
    await server.stop();
  });

  it('keeps an explicit public_url (a proxy in front)', async () => {
    const { file } = await configWith({ public_url: 'https://login.acme.test' }, 'explicit');
    const port = await freePort();
    const server = serve(['--config', file, '--port', String(port)]);
    await waitForOk(`http://127.0.0.1:${port}/healthz`, 30_000, server);
    const discovery = await get(`http://127.0.0.1:${port}/acme/.well-known/openid-configuration`);
    assert.equal(discovery.body.issuer, 'https://login.acme.test/acme/', discovery.text);
    await server.stop();
  });

  it('a port that is not 1-65535 is refused in one line naming --port', async () => {
    const { file } = await configWith({}, 'refused');
    for (const bad of ['0', '70000', 'http', '-1']) {
      const result = await runCli(['serve', '--config', file, '--port', bad], { env: { LATCHKEY_MASTER_KEY: MASTER_KEY } });
      assert.notEqual(result.code, 0, `${bad}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /--port/, `${bad}: ${result.stderr}`);
      assert.match(result.stderr, /1-65535/, `${bad}: ${result.stderr}`);
      assert.ok(!hasStackTrace(result.stderr), result.stderr);
    }
  });
});
