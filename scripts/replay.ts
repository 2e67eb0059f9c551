import { parseArgs } from 'node:util';
import path from 'node:path';
import { Client, Connection, type HistoryAndWorkflowId } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { encryptedDataConverter } from '../codec';
import { readDevKeys } from '../codec/keys';
import { loadConfig, temporalConnectionOptions } from '../config';
import { loadHistories, replayAll } from './histories';
import { WORKFLOWS_PATH } from '../worker/worker';
import { errorMessage } from '../domain/errors';

const USAGE = `usage: npm run replay -- --dir DIR
       npm run replay -- --query '<visibility query>'   (e.g. 'WorkflowType = "orderWorkflow"')
       add --workflows FILE to replay against other workflow code than workflows/index.ts

Replays recorded histories (files, or recent runs from a server) against the workflow code in this tree.
The server connection comes from the environment and profile (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_PROFILE, TLS and API key settings); payloads decode with ENCRYPTION_KEYS, or the local stack's
dev key when there is one.`;

/**
 * `npm run replay`: a gate before deploying a change to the saga. One line per history, then
 * `N passed, M failed`; exits non-zero if any history fails, or if there was none to replay.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      query: { type: 'string' },
      workflows: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.dir === !values.query) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const config = loadConfig();
  const keys = config.encryptionKeys ?? readDevKeys(config.dataDir);
  const dataConverter = keys ? encryptedDataConverter(keys) : undefined;

  let connection: Connection | null = null;
  let histories: Iterable<HistoryAndWorkflowId> | AsyncIterable<HistoryAndWorkflowId>;
  if (values.dir) {
    histories = loadHistories(path.resolve(values.dir));
  } else {
    connection = await Connection.connect(temporalConnectionOptions(config));
    const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
    histories = client.workflow.list({ query: values.query! }).intoHistories();
  }

  let passed = 0;
  let failed = 0;
  try {
    const workflowsPath = values.workflows ? path.resolve(values.workflows) : WORKFLOWS_PATH;
    for (const outcome of await replayAll({ workflowsPath, dataConverter }, histories)) {
      if (outcome.error) {
        failed++;
        console.log(`FAIL ${outcome.name}: ${outcome.error.name}: ${outcome.error.message.split('\n')[0]}`);
      } else {
        passed++;
        console.log(`PASS ${outcome.name}`);
      }
    }
  } finally {
    await connection?.close();
  }
  console.log(`${passed} passed, ${failed} failed`);
  if (passed + failed === 0) console.error('nothing was replayed: check the folder or the query');
  return failed > 0 || passed + failed === 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = errorMessage(err);
    console.error(`replay failed: ${message}`);
    if (message.includes('binary/encrypted'))
      console.error('the histories are encrypted: set ENCRYPTION_KEYS (or DATA_DIR to the stack that wrote them)');
    process.exit(1);
  },
);
