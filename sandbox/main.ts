import { loadConfigOrExit } from '../config';
import { loggerFromConfig } from '../observability/logger';
import { startTracing } from '../observability/tracing';
import { createSandbox } from './server';

/** Runs the sandbox alone (`npm run sandbox`); `npm start` runs it with the rest of the stack. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('sandbox');
  const logger = loggerFromConfig(config.log).child({ component: 'sandbox' });
  const tracing = await startTracing('order-sandbox');
  const sandbox = createSandbox({
    providers: config.paymentProviders,
    webhookBaseUrl: config.webhookBaseUrl,
    paymentWindowMs: config.saga.paymentWindowMs,
    logger,
  });
  const server = sandbox.app.listen(config.sandboxPort, config.sandboxHost, () => {
    logger.info({ url: config.sandboxUrl }, 'sandbox listening');
  });
  const stop = () => {
    sandbox.close();
    server.close(() => void Promise.resolve(tracing?.shutdown()).then(() => process.exit(0)));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
