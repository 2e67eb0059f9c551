import { encryptionKeys, loadConfigOrExit, type Config } from '../config';
import { loggerFromConfig, type PinoLogger } from '../observability/logger';
import { startTracing } from '../observability/tracing';
import { onStopSignals } from '../stack/children';
import { connectClient, serveApi } from '../stack/parts';
import { OrderStore } from '../store/order-store';

/**
 * A burst of checkouts connects all at once: a backlog that holds them (Node's default, 511, makes the rest
 * retry their SYN a second later, before they are even shed).
 */
const LISTEN_BACKLOG = 4096;

/** API entry point: listens on API_PORT and, on SIGTERM/SIGINT, stops taking requests, drains, then closes. */
async function main(config: Config, logger: PinoLogger): Promise<void> {
  const tracing = await startTracing('order-api');
  const temporal = await connectClient(config, encryptionKeys(config).keys, tracing);
  const store = await OrderStore.open(config.orderStoreUrl);
  // Every interface: in a container the API is reached from outside it.
  const serving = serveApi(config, temporal, store, logger, { host: null, backlog: LISTEN_BACKLOG });
  // Before the port opens: a supervisor may signal as soon as it answers, before the code after the listen runs.
  onStopSignals(
    () =>
      void serving.then(({ server, stopBackground }) => {
        stopBackground();
        server.close(
          () =>
            void Promise.all([temporal.connection.close(), store.close(), tracing?.shutdown()]).then(() =>
              process.exit(0),
            ),
        );
        server.closeIdleConnections();
      }),
  );
  await serving;
  logger.child({ component: 'api' }).info({ port: config.apiPort, tracing: tracing !== null }, 'orders API listening');
}

const config = loadConfigOrExit('api');
const logger = loggerFromConfig(config.log);
main(config, logger).catch((err: unknown) => {
  logger.child({ component: 'api' }).fatal({ err }, 'api failed');
  process.exit(1);
});
