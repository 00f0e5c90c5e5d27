import { resolve } from 'node:path';
import { demoConfig, demoCurl, type DemoCredentials } from '../config/demo.js';
import { loadConfigFile, resolveConfig, type LatchkeyConfig } from '../config/load.js';

export interface CliConfig {
  config: LatchkeyConfig;
  /** Set when no --config was given and the demo tenant is served. */
  demo?: { credentials: DemoCredentials; curl: (publicUrl: string) => string };
}

/**
 * `--config FILE`, or the demo tenant on ./data when none is given. `port`
 * (`serve --port`) overrides the file's listen.port as LATCHKEY_LISTEN_PORT
 * does, and wins over it: a command line is more specific than the environment.
 */
export function cliConfig(configFile: string | undefined, port?: number): CliConfig {
  if (configFile !== undefined)
    return {
      config: loadConfigFile(configFile, port === undefined ? process.env : { ...process.env, LATCHKEY_LISTEN_PORT: String(port) }),
    };
  const dataDir = resolve('data');
  const { config, credentials } = demoConfig(dataDir, port ?? 3000);
  return {
    config: resolveConfig(config, dataDir, process.env, 'demo configuration'),
    demo: { credentials, curl: (url) => demoCurl(url, credentials) },
  };
}
