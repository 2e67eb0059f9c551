import { loadConfig } from '../config';
import { createSandbox } from './server';

/** Runs the sandbox alone (`npm run sandbox`); `npm start` runs it with the rest of the stack. */
function main(): void {
  const config = loadConfig();
  const sandbox = createSandbox({
    providers: config.paymentProviders,
    webhookBaseUrl: config.webhookBaseUrl,
    paymentWindowMs: config.saga.paymentWindowMs,
  });
  const server = sandbox.app.listen(config.sandboxPort, '127.0.0.1', () => {
    console.log(`sandbox listening on ${config.sandboxUrl}`);
  });
  const stop = () => {
    sandbox.close();
    server.close(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main();
