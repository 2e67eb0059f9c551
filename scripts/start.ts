import { DEV_API_KEYS, loadConfigOrExit } from '../config';
import { loggerFromConfig } from '../observability/logger';
import { startTracing } from '../observability/tracing';
import { installWorkerRuntime } from '../observability/worker-runtime';
import { startLocalStack } from '../stack/local-stack';
import { SCHEDULED_BACKUPS_FOLDER, scheduleBackups } from '../stack/backup';
import path from 'node:path';
import { onStopSignals } from '../stack/children';
import { errorMessage } from '../domain/errors';

const say = (line: string) => console.log(`[start] ${line}`);

/** `npm start`: the whole local stack in one foreground process tree (docs/API.md, "The local stack"). */
async function main(): Promise<void> {
  const config = loadConfigOrExit('start');
  // Pretty lines for a person at a terminal; JSON when piped or LOG_FORMAT=json.
  const logger = loggerFromConfig(config.log, true);
  // Installed before anything touches Temporal: the worker's metrics endpoint, and our own signal handling
  // so that Ctrl-C stops the parts in order instead of the SDK stopping only the worker.
  installWorkerRuntime({
    logger: logger.child({ component: 'worker' }),
    metrics: { host: config.workerMetricsHost, port: config.workerMetricsPort },
    shutdownSignals: [],
  });
  const tracing = await startTracing('order-saga');
  const stack = await startLocalStack(config, say, { logger, tracing });

  say(`Temporal      ${stack.address} (namespace ${config.temporal.namespace})`);
  if (stack.devServer) {
    say(
      `Web UI        http://127.0.0.1:${config.temporal.uiPort}   (decodes payloads through ${stack.devCodecUrl}, loopback only)`,
    );
  }
  say(`Orders API    ${stack.apiUrl}   (OpenAPI: ${stack.apiUrl}/openapi.json)`);
  say(`Sandbox       ${config.sandboxUrl}   (ledger: ${config.sandboxUrl}/_sandbox/ledger)`);
  say(`Worker        metrics on http://${config.workerMetricsHost}:${config.workerMetricsPort}/metrics`);
  say(
    `Tracing       ${tracing ? `on (OTEL_TRACES_EXPORTER=${process.env.OTEL_TRACES_EXPORTER})` : 'off (set OTEL_TRACES_EXPORTER to turn it on)'}`,
  );
  const { intervalMs, keep } = config.backups;
  let stopBackups = async () => {};
  if (intervalMs !== null && stack.devServer) {
    stopBackups = scheduleBackups(config.dataDir, { intervalMs, keep }, (line) => say(line));
    say(
      `Backups       every ${intervalMs} ms into ${path.join(config.dataDir, SCHEDULED_BACKUPS_FOLDER)}, the newest ${keep} kept`,
    );
  } else if (intervalMs !== null) {
    say('Backups       off: BACKUP_INTERVAL_MS backs up the local dev server, and TEMPORAL_ADDRESS names another');
  }
  if (config.usingDevApiKeys) {
    for (const [token, key] of Object.entries(DEV_API_KEYS))
      say(`dev token     ${token}  (${key.name}: ${key.scopes.join(', ')})`);
  }
  // Since the process began: a first run's download of the CLI included.
  say(`ready in ${process.uptime().toFixed(1)} s: press Ctrl-C to stop`);

  let stopping: Promise<void> | null = null;
  const stop = (why: string) =>
    (stopping ??= (async () => {
      say(`${why}: stopping the API, draining the worker, then the sandbox and the dev server...`);
      await stopBackups();
      await stack.stop();
      await tracing?.shutdown();
      say('stopped');
    })());
  onStopSignals((signal) => void stop(signal));
  await stack.workerRun.catch(async (err: unknown) => {
    console.error('[start] the worker failed:', errorMessage(err));
    process.exitCode = 1;
    await stop('worker failure');
  });
}

main().catch((err: unknown) => {
  console.error('[start] failed:', errorMessage(err));
  process.exit(1);
});
