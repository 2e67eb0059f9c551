import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { z } from 'zod';
import { createHttpClient } from '../activities/http';
import { createPaymentActivities, createPaymentLister } from '../activities/payments';
import { loadConfigOrExit, temporalConnectionOptions } from '../config';
import { reconcilePayments } from '../stack/reconcile';

const USAGE = `usage: npm run reconcile -- --since <time>     (ISO 8601, e.g. 2026-11-30T08:10:44Z: the backup's time)

After a restore: lists every payment each provider opened since <time>, leaves alone those whose order the
Temporal server knows, and refunds or voids the others, one line each and a summary (docs/OPERATIONS.md).
Exits 1 if anything could not be done; running it again is safe.`;

const Since = z.iso.datetime({ offset: true });

/** `npm run reconcile -- --since <time>`: the last step of a restore drill. */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { since: { type: 'string' }, help: { type: 'boolean' } } });
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
  try {
    const report = await reconcilePayments(new Date(since.data), {
      providers: config.paymentProviders.map((provider) => provider.name),
      page: createPaymentLister(http, config.paymentProviders).page,
      settle: createPaymentActivities(http, config.paymentProviders).settlePayment,
      client: new Client({ connection, namespace: config.temporal.namespace }),
      say: (line) => console.log(`[reconcile] ${line}`),
    });
    return report.failures.length === 0 ? 0 : 1;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('[reconcile] failed:', err);
    process.exit(1);
  },
);
