import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseConfig, type StrongboxConfig } from '../config';
import { ConfigError } from '../errors';

/**
 * Loads `strongbox.config.json` (or the file STRONGBOX_CONFIG names). A missing default
 * file means "no configured databases, repository folder storage"; a missing file that
 * was named explicitly is an error.
 */
export function loadConfig(env: NodeJS.ProcessEnv, cwd: string): { config: StrongboxConfig; path?: string } {
  const named = env.STRONGBOX_CONFIG;
  const path = named ? (isAbsolute(named) ? named : resolve(cwd, named)) : resolve(cwd, 'strongbox.config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !named) return { config: parseConfig({}, 'defaults') };
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`, 'check STRONGBOX_CONFIG or create strongbox.config.json', { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`, 'fix the syntax (README.md has an example)', { cause: error });
  }
  return { config: parseConfig(json, path), path };
}
