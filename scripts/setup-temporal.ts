import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { loadConfigOrExit, temporalConnectionOptions, type Config } from '../config';
import { ensureOrderSearchAttributes } from '../stack/search-attributes';
import { errorMessage } from '../domain/errors';

/** How long the setup waits for the frontend and for a new namespace to be usable (a cluster starting up). */
const SETUP_PATIENCE_MS = 180_000;
/** Retention of closed orders' histories in a namespace this setup creates. */
const RETENTION = '30 days';
/** gRPC ALREADY_EXISTS. */
const ALREADY_EXISTS = 6;

/**
 * `node dist/scripts/setup-temporal.js` (compose's one-shot `temporal-setup`, and `npm run test:cluster`):
 * on a cluster whose schemas exist, registers the namespace (if missing) and the order search attributes.
 * Idempotent; retries while the frontend starts or the new namespace propagates.
 */
export async function setupTemporal(config: Config, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + SETUP_PATIENCE_MS;
  const namespace = config.temporal.namespace;
  for (let attempt = 1; ; attempt++) {
    let connection: Connection | null = null;
    try {
      connection = await Connection.connect({ ...temporalConnectionOptions(config), connectTimeout: 5_000 });
      await registerNamespace(connection, namespace);
      const added = await ensureOrderSearchAttributes(connection, namespace);
      log(
        `namespace ${namespace} ready; search attributes ${added.length ? `added: ${added.join(', ')}` : 'already there'}`,
      );
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      log(`not ready yet (attempt ${attempt}): ${errorMessage(err).split('\n')[0]}`);
      await sleep(2_000);
    } finally {
      await connection?.close();
    }
  }
}

async function registerNamespace(connection: Connection, namespace: string): Promise<void> {
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(RETENTION),
    });
  } catch (err) {
    if ((err as { code?: number }).code !== ALREADY_EXISTS) throw err;
  }
}

if (require.main === module) {
  const config = loadConfigOrExit('setup-temporal');
  setupTemporal(config, (line) => console.log(`[setup] ${line}`)).catch((err: unknown) => {
    console.error('[setup] failed:', errorMessage(err));
    process.exit(1);
  });
}
