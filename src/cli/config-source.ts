import { resolve } from 'node:path';
import { demoConfig, demoCurl, type DemoCredentials } from '../config/demo.js';
import { configFileFromEnvironment, loadConfigFile, resolveConfig, type LatchkeyConfig } from '../config/load.js';

export interface CliConfig {
  config: LatchkeyConfig;
  /** Set when no configuration was named and the demo tenant is served. */
  demo?: { credentials: DemoCredentials; curl: (publicUrl: string) => string };
}

/**
 * A command that needs a configuration and was given none (issue #15 point 6):
 * it used to create a demo database and master key in the current folder and
 * act on them, which looked like success against the wrong data.
 */
export class NoConfigurationError extends Error {
  override name = 'NoConfigurationError';
  constructor() {
    super('no configuration: pass --config FILE or set LATCHKEY_CONFIG');
  }
}

/** `--config FILE`, else `LATCHKEY_CONFIG`, else none. */
export function configFileOf(configFile: string | undefined): string | undefined {
  return configFile ?? configFileFromEnvironment();
}

/** The configuration an admin command works on: `--config FILE` or `LATCHKEY_CONFIG`, never the demo. */
export function requiredCliConfig(configFile: string | undefined): LatchkeyConfig {
  const file = configFileOf(configFile);
  if (file === undefined) throw new NoConfigurationError();
  return loadConfigFile(file);
}

/**
 * `serve` only (DESIGN.md §1, the quick start): the named configuration, or
 * the demo tenant on ./data when none is named. `port` (`serve --port`)
 * overrides the file's listen.port as LATCHKEY_LISTEN_PORT does, and wins
 * over it: a command line is more specific than the environment.
 */
export function cliConfig(configFile: string | undefined, port?: number): CliConfig {
  const file = configFileOf(configFile);
  if (file !== undefined) {
    return { config: loadConfigFile(file, port === undefined ? process.env : { ...process.env, LATCHKEY_LISTEN_PORT: String(port) }) };
  }
  const dataDir = resolve('data');
  const { config, credentials } = demoConfig(dataDir, port ?? 3000);
  return {
    config: resolveConfig(config, dataDir, process.env, 'demo configuration'),
    demo: { credentials, curl: (url) => demoCurl(url, credentials) },
  };
}
