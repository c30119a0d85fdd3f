// The resolved configuration this repository's environment describes (doctor, migrate, the deploy
// check and the configuration tests): api/_host.ts's mapping, resolved as the package resolves it.
import { resolveConfig, type Config } from '../../packages/server/src/config.js';
import { optionsFromEnv, type Env } from '../../api/_host.js';

export function loadConfig(env: Env): Config {
  return resolveConfig(optionsFromEnv(env));
}
