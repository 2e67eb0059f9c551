import { parseArgs } from 'node:util';
import { Connection } from '@temporalio/client';
import { EncryptionCodec } from '../codec';
import { readDevKeys } from '../codec/keys';
import { z } from 'zod';
import { createHttpClient } from '../activities/http';
import { loadConfigOrExit, temporalConnectionOptions } from '../config';
import { temporalClient } from '../stack/parts';
import { reconcile, reconcileThrough } from '../stack/reconcile';
import { activityEndpoints } from '../worker/worker';
import { runScript } from '../stack/children';
import { OrderStore } from '../store/order-store';

const USAGE = `usage: npm run reconcile -- --since <time> [--dry-run]
       <time>: ISO 8601 with a zone, e.g. 2026-11-30T08:10:44Z (the backup's createdAt)

After a restore: lists every payment each provider opened since <time> and refunds or voids those the
orders do not keep (their order unknown to the Temporal server and to the store of record, or keeping
another payment, or ended without one); releases the stock reserved since <time> for orders the server
does not know; and has the store forget the orders placed since <time> that the server does not know
(lost in the restore). One line each and a summary (docs/OPERATIONS.md). --dry-run says what it would settle and settles
nothing. Exits 1 if anything could not be done; running it again is safe.`;

const Since = z.iso.datetime({ offset: true });

/** `npm run reconcile -- --since <time>`: the last step of a restore. */
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { since: { type: 'string' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const since = Since.safeParse(values.since);
  if (!since.success) {
    console.error(
      values.since === undefined
        ? `[reconcile] --since is required\n${USAGE}`
        : `[reconcile] --since ${JSON.stringify(values.since)} is not an ISO 8601 time with a zone (2026-11-30T08:10:44Z)`,
    );
    return 2;
  }
  const config = loadConfigOrExit('reconcile');
  const http = createHttpClient(config.httpTimeoutMs);
  const connection = await Connection.connect(temporalConnectionOptions(config));
  // The orders' memos are read to know which payment each keeps: decoded with the payload keys.
  const keys = config.encryptionKeys ?? readDevKeys(config.dataDir);
  const client = temporalClient(connection, config.temporal.namespace, keys && new EncryptionCodec(keys));
  let store: OrderStore | undefined;
  try {
    store = await OrderStore.open(config.orderStoreUrl);
    const report = await reconcile(new Date(since.data), {
      ...reconcileThrough(http, activityEndpoints(config)),
      client,
      store,
      say: (line) => console.log(`[reconcile] ${line}`),
      dryRun: values['dry-run'] === true,
    });
    return report.failures.length === 0 ? 0 : 1;
  } finally {
    await store?.close();
    await connection.close();
  }
}

runScript(main, { name: 'reconcile' });
