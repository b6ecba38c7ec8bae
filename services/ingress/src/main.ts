/** Ingress service entry point: `npm start -w services/ingress` (or `tsx src/main.ts`). */
import { createLogger, initTelemetry, runService } from '@tidemark/common';
import { startIngress } from './app.js';
import { loadIngressConfig } from './config.js';

const logger = createLogger('ingress');
await runService({
  service: 'ingress',
  logger,
  start: async () => {
    const config = loadIngressConfig();
    initTelemetry('ingress', config.TIDEMARK_OTLP_ENDPOINT);
    const ingress = await startIngress(config, { logger });
    return [() => ingress.close()];
  },
});
