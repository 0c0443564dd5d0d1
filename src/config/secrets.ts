/** The secrets a config holds, for the redactor that keeps them out of every text camplex writes. */
import { Redactor } from '../guard/redactor.js';
import type { Config } from './schema.js';

/**
 * A redactor that knows every secret of `config` (camera and PTZ credentials, API tokens, the NATS
 * password or token) and the
 * password in `env.CAMPLEX_PASSWORD`, which the config keeps only as a hash.
 */
export function redactorFor(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  redactor = new Redactor(),
): Redactor {
  for (const camera of config.cameras) {
    if (camera.user !== undefined) redactor.addUser(camera.user);
    if (camera.password !== undefined) redactor.addSecret(camera.password);
    redactor.addUrl(camera.url);
    if (camera.substream !== undefined) redactor.addUrl(camera.substream);
    if (camera.ptz?.user !== undefined) redactor.addUser(camera.ptz.user);
    if (camera.ptz?.password !== undefined) redactor.addSecret(camera.ptz.password);
  }
  for (const token of Object.values(config.auth.tokens)) redactor.addSecret(token);
  for (const secret of [config.cluster?.password, config.cluster?.token]) {
    if (secret !== undefined) redactor.addSecret(secret);
  }
  redactor.addUrl(config.cluster?.nats ?? '');
  if (env.CAMPLEX_PASSWORD) redactor.addSecret(env.CAMPLEX_PASSWORD);
  return redactor;
}
