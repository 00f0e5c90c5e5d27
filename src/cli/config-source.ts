import { resolve } from 'node:path';
import { demoConfig, demoCurl, type DemoCredentials } from '../config/demo.js';
import { loadConfigFile, resolveConfig, type LatchkeyConfig } from '../config/load.js';

export interface CliConfig {
  config: LatchkeyConfig;
  /** Set when no --config was given and the demo tenant is served. */
  demo?: { credentials: DemoCredentials; curl: (publicUrl: string) => string };
}

/** `--config FILE`, or the demo tenant on ./data when none is given. */
export function cliConfig(configFile: string | undefined, demoPort = 3000): CliConfig {
  if (configFile !== undefined) return { config: loadConfigFile(configFile) };
  const dataDir = resolve('data');
  const { config, credentials } = demoConfig(dataDir, demoPort);
  return {
    config: resolveConfig(config, dataDir, process.env, 'demo configuration'),
    demo: { credentials, curl: (url) => demoCurl(url, credentials) },
  };
}
