import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { asStrongboxError, StrongboxError } from '../errors';
import type { Log } from '../ports';

/** One Powertools logger per function container (service name from POWERTOOLS_SERVICE_NAME). */
export const logger = new Logger({ serviceName: 'strongbox' });

/** Powertools' logger behind the project's Log port. */
export const lambdaLog: Log = {
  info: (message, attributes) => logger.info(message, attributes ?? {}),
  warn: (message, attributes) => logger.warn(message, attributes ?? {}),
  error: (message, attributes) => logger.error(message, attributes ?? {}),
};

/**
 * Wraps a handler the same way for every function: Lambda context in every log line,
 * and failures logged with their stable code before they are rethrown (so that Lambda's
 * retry and the async-invoke failure destination see them).
 */
export function lambdaHandler<E, R>(name: string, handle: (event: E, context: Context) => Promise<R>) {
  return middy(async (event: E, context: Context) => {
    try {
      return await handle(event, context);
    } catch (error) {
      const failure = asStrongboxError(error);
      logger.error(`${name} failed`, { code: failure.code, reason: failure.message, hint: failure.hint });
      throw failure;
    }
  }).use(injectLambdaContext(logger, { clearState: true }));
}

/** A required environment variable of a function. Throws CONFIG_INVALID naming it (a deployment bug). */
export function requiredEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new StrongboxError('CONFIG_INVALID', `environment variable ${name} is not set: the deployment is incomplete (serverless.yml sets it)`, 'deploy again with this version\'s serverless.yml (`npx sls deploy`): it sets every function\'s environment');
  return value;
}
