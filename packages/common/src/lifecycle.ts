/**
 * Service lifecycle: start, report ready, and on SIGINT/SIGTERM stop gracefully
 * (in reverse order of start) within a bounded time, then exit.
 */
import type { Logger } from './log.js';
import { shutdownTelemetry } from './telemetry.js';

export type Stopper = () => Promise<void>;

export const SHUTDOWN_TIMEOUT_MS = 20_000;

export async function runService(opts: { service: string; logger: Logger; start: () => Promise<Stopper[]> }): Promise<void> {
  const { logger } = opts;
  let stoppers: Stopper[] = [];
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${opts.service} stopping`);
    const timer = setTimeout(() => {
      logger.error({ timeout_ms: SHUTDOWN_TIMEOUT_MS }, 'graceful shutdown timed out; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    for (const s of [...stoppers].reverse()) {
      try {
        await s();
      } catch (err) {
        logger.error({ err }, 'error during shutdown');
      }
    }
    await shutdownTelemetry();
    logger.info(`${opts.service} stopped`);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled promise rejection; exiting');
    process.exit(1);
  });
  try {
    stoppers = await opts.start();
    logger.info(`${opts.service} ready`);
  } catch (err) {
    logger.fatal({ err: err instanceof Error ? { message: err.message, stack: err.stack } : err }, `${opts.service} failed to start`);
    process.exit(1);
  }
}
