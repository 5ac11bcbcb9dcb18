import './production-mode';
import 'reflect-metadata';
import { loadConfig } from './config';
import { createLogger } from './logger';
import { startServer } from './server';

/** Entry point of `npm start`: configuration from the environment, embedded defaults otherwise. */
async function main(): Promise<void> {
  const logger = createLogger();
  const config = loadConfig();
  for (const warning of config.warnings) logger.warn(warning);
  const server = await startServer(config, logger);
  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const finished = await server.close();
    logger.info({ finished }, 'stopped');
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e) => {
  console.error(`Cannot start: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
