import { Client, Connection } from '@temporalio/client';
import { EncryptionCodec } from '../codec';
import { encryptionKeys, loadConfig, temporalAddress } from '../config';
import { createHardenedServer } from './http-server';
import { createApp } from './server';

/** API entry point: listens on API_PORT and, on SIGTERM/SIGINT, stops taking requests, drains, then closes. */
async function main(): Promise<void> {
  const config = loadConfig();
  const connection = await Connection.connect({ address: temporalAddress(config) });
  const codec = new EncryptionCodec(encryptionKeys(config).keys);
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: { payloadCodecs: [codec] } });
  const server = createHardenedServer(createApp({ client, config, codec }));
  server.listen(config.apiPort, () => console.log(`orders API listening on port ${config.apiPort}`));
  const stop = () => {
    server.close(() => void connection.close().then(() => process.exit(0)));
    server.closeIdleConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error('api failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
