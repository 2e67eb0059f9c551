import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { loadConfigOrExit, temporalConnectionOptions, type Config } from '../config';
import { ensureOrderSearchAttributes } from '../stack/search-attributes';
import { ensureRetention } from '../stack/retention';
import { GrpcCode } from '../api/temporal-unavailable';
import { errorMessage } from '../domain/errors';

/** How long the setup waits for the frontend and for a new namespace to be usable (a cluster starting up). */
const SETUP_PATIENCE_MS = 180_000;

/**
 * `node dist/scripts/setup-temporal.js` (compose's one-shot `temporal-setup`, and `npm run test:cluster`):
 * on a cluster whose schemas exist, registers the namespace (if missing) with its retention
 * (`TEMPORAL_RETENTION_DAYS`, set again if it changed) and the order search attributes. Idempotent; retries
 * while the frontend starts or the new namespace propagates.
 */
export async function setupTemporal(config: Config, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + SETUP_PATIENCE_MS;
  const namespace = config.temporal.namespace;
  for (let attempt = 1; ; attempt++) {
    let connection: Connection | null = null;
    try {
      connection = await Connection.connect({ ...temporalConnectionOptions(config), connectTimeout: 5_000 });
      const { retentionDays } = config.temporal;
      await registerNamespace(connection, namespace, retentionDays);
      await ensureRetention(connection, namespace, retentionDays);
      const added = await ensureOrderSearchAttributes(connection, namespace);
      log(
        `namespace ${namespace} ready, keeping closed orders ${retentionDays} days; search attributes ` +
          (added.length ? `added: ${added.join(', ')}` : 'already there'),
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

async function registerNamespace(connection: Connection, namespace: string, retentionDays: number): Promise<void> {
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(`${retentionDays} days`),
    });
  } catch (err) {
    if ((err as { code?: number }).code !== GrpcCode.ALREADY_EXISTS) throw err;
  }
}

if (require.main === module) {
  const config = loadConfigOrExit('setup-temporal');
  setupTemporal(config, (line) => console.log(`[setup] ${line}`)).catch((err: unknown) => {
    console.error('[setup] failed:', errorMessage(err));
    process.exit(1);
  });
}
