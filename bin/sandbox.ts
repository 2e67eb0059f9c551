import { loadConfigOrExit } from '../config';
import { loggerFromConfig } from '../observability/logger';
import { startTracing } from '../observability/tracing';
import { onStopSignals } from '../stack/children';
import { serveSandbox } from '../stack/parts';

/** Runs the sandbox alone (`npm run sandbox`); `npm start` runs it with the rest of the stack. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('sandbox');
  const logger = loggerFromConfig(config.log);
  const tracing = await startTracing('order-sandbox');
  const sandbox = await serveSandbox(config, {}, logger);
  logger.child({ component: 'sandbox' }).info({ url: config.sandboxUrl }, 'sandbox listening');
  const stop = () =>
    void sandbox.close().then(async () => {
      await tracing?.shutdown();
      process.exit(0);
    });
  onStopSignals(stop);
}

void main();
