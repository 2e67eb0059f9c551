import { Client, Connection } from '@temporalio/client';
import { EncryptionCodec } from '../codec';
import { encryptionKeys, loadConfigOrExit, temporalConnectionOptions, type Config } from '../config';
import { loggerFromConfig, type PinoLogger } from '../observability/logger';
import { startTracing } from '../observability/tracing';
import { createHardenedServer } from './http-server';
import { createApp } from './server';

/** Connections the kernel queues before the API accepts them (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

/** API entry point: listens on API_PORT and, on SIGTERM/SIGINT, stops taking requests, drains, then closes. */
async function main(config: Config, logger: PinoLogger): Promise<void> {
  const tracing = await startTracing('order-api');
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const codec = new EncryptionCodec(encryptionKeys(config).keys);
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: { payloadCodecs: [codec] },
    plugins: tracing ? [tracing.plugin] : [],
  });
  const server = createHardenedServer(createApp({ client, config, codec, logger }));
  // A burst of checkouts connects all at once: a backlog that holds them (Node's default, 511, makes the
  // rest retry their SYN a second later, before they are even shed).
  server.listen({ port: config.apiPort, backlog: LISTEN_BACKLOG }, () =>
    logger.info({ port: config.apiPort, tracing: tracing !== null }, 'orders API listening'),
  );
  const stop = () => {
    server.close(() => void Promise.all([connection.close(), tracing?.shutdown()]).then(() => process.exit(0)));
    server.closeIdleConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

const config = loadConfigOrExit('api');
const logger = loggerFromConfig(config.log).child({ component: 'api' });
main(config, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'api failed');
  process.exit(1);
});
