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
  const serving = serveSandbox(config, {}, logger);
  // Before the port opens: a supervisor may signal as soon as it answers, before the code after the listen runs.
  onStopSignals(
    () =>
      void serving.then(async (sandbox) => {
        await sandbox.close();
        await tracing?.shutdown();
        process.exit(0);
      }),
  );
  await serving;
  logger.child({ component: 'sandbox' }).info({ url: config.sandboxUrl }, 'sandbox listening');
}

void main();
