import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { devPaymentProviders, encryptionKeys, loadConfig } from '../config';
import type { OrderView } from '../domain/order-state';
import type { OrderRequest } from '../domain/order-request';
import { createSandbox } from '../sandbox/server';
import { connectClient, freePort, waitUntilAnswers } from '../stack/parts';
import { judgeOrders, judgeWorkflows, waitForOrdersToEnd } from './order-checks';
import { entryCompiled, runScript, tracked, type EntryPoint } from '../stack/children';
import { goInstall, TOOLS_BIN } from '../stack/temporal-cli';
import { SERVER_DYNAMIC_CONFIG, withoutOtelVariables } from '../stack/dev-server-process';
import { errorMessage } from '../domain/errors';

/**
 * `npm run test:cluster`: the same code on a real Temporal cluster, on this machine. Builds the full
 * server (and its SQL tool) with Go, runs PostgreSQL from Debian's packages, lays the schemas with
 * deploy/temporal/setup-schema.sh (the script compose runs), then runs what the image runs, from `dist/`
 * (`npm run build`): the setup one-shot (namespace, search attributes), two workers on the prebuilt
 * bundle and two API instances, as separate processes. It places orders across both APIs, kills one
 * worker mid-run, and checks every order ends with its money right. Loopback only, bounded in time, and
 * it removes what it started. Last line: the summary.
 */
const SERVER_VERSION = 'v1.31.2';
const SERVER_MODULES = [
  `go.temporal.io/server/cmd/server@${SERVER_VERSION}`,
  `go.temporal.io/server/cmd/tools/sql@${SERVER_VERSION}`,
];
const SERVER_BIN = path.join(TOOLS_BIN, `temporal-server-${SERVER_VERSION}`);
const ORDERS = Number(process.env.CLUSTER_ORDERS ?? 240);
const CONCURRENCY = 12;
const RUN_TIMEOUT_MS = 30 * 60_000;
const SETTLE_TIMEOUT_MS = 5 * 60_000;
const NAMESPACE = 'orders';
const DIST = path.resolve(__dirname, '..', 'dist');
const PASSWORD = 'temporal';
/** Mostly paid orders, some declined, some whose provider sends its callback three times. */
const TOKENS = ['tok_ok', 'tok_ok', 'tok_ok', 'tok_ok', 'tok_ok', 'tok_ok', 'tok_decline', 'tok_duplicate'] as const;

const workDir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-cluster-'));
const log = createWriteStream(path.join(workDir, 'cluster.log'));
const say = (line: string) => {
  console.log(`[cluster] ${line}`);
  log.write(`[cluster] ${line}\n`);
};
/** Stops the private PostgreSQL, once it runs (set by startPostgres). */
let stopPostgres: () => void = () => {};

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const result = spawnSync(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  log.write(`$ ${command} ${args.join(' ')}\n${result.stdout}${result.stderr}`);
  if (result.status !== 0)
    throw new Error(
      `${path.basename(command)} ${args[0] ?? ''} exited ${result.status ?? result.signal}: ${result.stderr.trim().split('\n').pop()}`,
    );
}

/** Starts a long-running child whose output goes to the run's log, prefixed with `name`. */
function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = tracked(spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stdout!.on('data', (chunk: Buffer) => log.write(`[${name}] ${chunk}`));
  child.stderr!.on('data', (chunk: Buffer) => log.write(`[${name}] ${chunk}`));
  return child;
}

/** The full server and its SQL tool, built once with Go into .tools/bin; and the schema files of the same version. */
function ensureServer(): { server: string; sql: string; schemaDir: string } {
  const server = path.join(SERVER_BIN, 'server');
  const sql = path.join(SERVER_BIN, 'sql');
  if (!existsSync(server) || !existsSync(sql)) {
    say(
      `building the Temporal server ${SERVER_VERSION} and its SQL tool with Go (the first build takes several minutes)...`,
    );
    say(`built in ${goInstall(SERVER_MODULES, SERVER_BIN)} s`);
  }
  const goEnv = spawnSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' });
  if (goEnv.error || goEnv.status !== 0)
    throw new Error('Go is needed for the server schema files (go env GOMODCACHE failed)');
  const modCache = goEnv.stdout.trim();
  const schemaDir = path.join(modCache, `go.temporal.io/server@${SERVER_VERSION}`, 'schema', 'postgresql', 'v12');
  if (!existsSync(schemaDir)) throw new Error(`no schema files at ${schemaDir}`);
  return { server, sql, schemaDir };
}

/** Debian's PostgreSQL binaries, installed with apt-get when missing. */
function ensurePostgres(): string {
  const find = () => {
    const root = '/usr/lib/postgresql';
    const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
    const found = versions
      .map((version) => path.join(root, version, 'bin'))
      .find((bin) => existsSync(path.join(bin, 'initdb')));
    return found ?? null;
  };
  const found = find();
  if (found) return found;
  say('PostgreSQL is not installed: installing it from the Debian packages...');
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], {
    ...process.env,
    DEBIAN_FRONTEND: 'noninteractive',
  });
  const installed = find();
  if (!installed) throw new Error('postgresql installed, but no initdb under /usr/lib/postgresql');
  return installed;
}

/** A private PostgreSQL on a free loopback port, in the run's directory; as the `postgres` user when we are root. */
async function startPostgres(bin: string): Promise<number> {
  const dataDir = path.join(workDir, 'postgres');
  mkdirSync(dataDir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) run('chown', ['-R', 'postgres:postgres', workDir]);
  const as = (command: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  run(...as(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'temporal', '--auth=trust', '-E', 'UTF8']));
  const port = await freePort();
  // pg_ctl starts it in the background and waits until it takes connections; it is also the one way it stops.
  // A throwaway database: durability traded for speed.
  const options = `-p ${port} -h 127.0.0.1 -k ${dataDir} -c fsync=off -c synchronous_commit=off -c max_connections=200`;
  stopPostgres = () =>
    void spawnSync(...as(path.join(bin, 'pg_ctl'), ['-D', dataDir, 'stop', '-m', 'fast', '-w', '-t', '20']), {
      stdio: 'ignore',
    });
  run(
    ...as(path.join(bin, 'pg_ctl'), [
      '-D',
      dataDir,
      '-l',
      path.join(workDir, 'postgres.log'),
      '-o',
      options,
      'start',
      '-w',
      '-t',
      '60',
    ]),
  );
  return port;
}

/** The server's configuration: PostgreSQL for persistence and visibility, every service on a free loopback port. */
async function writeServerConfig(postgresPort: number): Promise<{ frontend: number; file: string }> {
  const ports = {
    frontend: await freePort(),
    http: await freePort(),
    history: await freePort(),
    matching: await freePort(),
    worker: await freePort(),
  };
  // The cluster membership table stores ports as a smallint: freePort's are below 32768.
  const membership = {
    frontend: await freePort(),
    history: await freePort(),
    matching: await freePort(),
    worker: await freePort(),
  };
  const store = (database: string, maxConns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${database}
        connectAddr: 127.0.0.1:${postgresPort}
        connectProtocol: tcp
        user: temporal
        password: ${PASSWORD}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: 1h`;
  const service = (name: keyof typeof membership) => `
  ${name}:
    rpc:
      grpcPort: ${ports[name]}
      membershipPort: ${membership[name]}
      bindOnLocalHost: true${name === 'frontend' ? `\n      httpPort: ${ports.http}` : ''}`;
  const yaml = `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:${store('temporal', 20)}
    visibility:${store('temporal_visibility', 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:${service('frontend')}${service('history')}${service('matching')}${service('worker')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:${ports.frontend}
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: ${SERVER_DYNAMIC_CONFIG}
  pollInterval: 10s
`;
  const file = path.join(workDir, 'temporal.yaml');
  writeFileSync(file, yaml);
  return { frontend: ports.frontend, file };
}

async function main(): Promise<number> {
  const started = Date.now();
  const { server, sql, schemaDir } = ensureServer();
  const postgresBin = ensurePostgres();
  const postgresPort = await startPostgres(postgresBin);
  say(`PostgreSQL on 127.0.0.1:${postgresPort}; laying the schemas with deploy/temporal/setup-schema.sh`);
  run('sh', [path.resolve(__dirname, '..', 'deploy', 'temporal', 'setup-schema.sh')], {
    ...process.env,
    SQL_TOOL: sql,
    SQL_HOST: '127.0.0.1',
    SQL_PORT: String(postgresPort),
    SQL_PASSWORD: PASSWORD,
    SCHEMA_DIR: schemaDir,
  });

  const { frontend, file } = await writeServerConfig(postgresPort);
  const temporal = start(
    'temporal',
    server,
    ['--config-file', file, '--allow-no-auth', 'start'],
    withoutOtelVariables(process.env),
  );
  const serverExit = new Promise<never>((_, reject) =>
    temporal.once('exit', (code, signal) =>
      reject(new Error(`the Temporal server exited (${code ?? signal}); see its lines in the log`)),
    ),
  );
  // Only the setup waits on it; its exit at the end of the run is expected.
  serverExit.catch(() => undefined);
  const [apiPorts, sandboxPort] = [[await freePort(), await freePort()], await freePort()];
  const apiUrls = apiPorts.map((port) => `http://127.0.0.1:${port}`);
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  const keys = [{ id: 'cluster', key: randomBytes(32).toString('base64') }];
  const providers = devPaymentProviders(sandboxUrl);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: `127.0.0.1:${frontend}`,
    TEMPORAL_NAMESPACE: NAMESPACE,
    ENCRYPTION_KEYS: JSON.stringify(keys),
    SANDBOX_URL: sandboxUrl,
    PAYMENT_PROVIDERS: JSON.stringify(providers),
    PAYMENT_WINDOW_MS: '20000',
    LOG_LEVEL: 'warn',
  };
  const config = loadConfig(env);
  say(
    `Temporal server ${SERVER_VERSION} starting on 127.0.0.1:${frontend}; registering namespace ${NAMESPACE} and the search attributes`,
  );
  const setup = start('setup', process.execPath, [path.join(DIST, 'scripts', 'setup-temporal.js')], env);
  const setupExit = await Promise.race([
    new Promise<number | null>((resolve) => setup.once('exit', resolve)),
    serverExit,
  ]);
  if (setupExit !== 0) throw new Error(`the setup one-shot exited ${setupExit}`);

  // The sandbox in this process (its ledger is what the money check reads); webhooks go to the second API.
  const sandbox = createSandbox({
    providers,
    webhookBaseUrl: apiUrls[1]!,
    paymentWindowMs: config.saga.paymentWindowMs,
  });
  const sandboxServer = http.createServer(sandbox.app);
  await new Promise<void>((resolve) => sandboxServer.listen(sandboxPort, '127.0.0.1', resolve));

  const bundle = path.join(DIST, 'bundle', 'workflows.js');
  if (!existsSync(bundle)) throw new Error(`no ${bundle}: run npm run build first (npm run test:cluster does)`);
  const node = (entry: EntryPoint): [string, string[]] => [process.execPath, [entryCompiled(entry, DIST)]];
  const workers = await Promise.all(
    [1, 2].map(async (n) =>
      start(`worker-${n}`, ...node('worker'), {
        ...env,
        WORKFLOW_BUNDLE: bundle,
        WORKER_METRICS_PORT: String(await freePort()),
      }),
    ),
  );
  apiPorts.forEach((port, i) => start(`api-${i + 1}`, ...node('api'), { ...env, API_PORT: String(port) }));
  await Promise.all(apiUrls.map((url) => waitUntilAnswers(`${url}/readyz`)));
  say(`2 workers and 2 APIs up (${apiUrls.join(', ')}); placing ${ORDERS} orders at concurrency ${CONCURRENCY}`);

  const placed = new Map<string, OrderRequest>();
  const runId = randomBytes(3).toString('hex');
  let next = 0;
  let killed = false;
  const placeOne = async (index: number) => {
    const order: OrderRequest = {
      orderId: `K-${runId}-${index}`,
      customer: { id: `c-${index % 17}`, email: `buyer${index}@example.com` },
      currency: 'EUR',
      items: [{ sku: 'SKU-TEE', quantity: 1 + (index % 3), unitPrice: 1999 }],
      shippingAddress: {
        name: 'Cluster',
        line1: `${index} Main St`,
        city: 'Paris',
        postalCode: '75001',
        country: 'FR',
      },
      payment: { method: 'card', token: TOKENS[index % TOKENS.length]! },
    };
    const api = apiUrls[index % apiUrls.length]!;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(`${api}/orders`, {
          method: 'POST',
          headers: { authorization: 'Bearer dev-checkout', 'content-type': 'application/json' },
          body: JSON.stringify(order),
        });
        await response.arrayBuffer();
        if ([200, 201, 202, 422].includes(response.status)) break;
        throw new Error(`POST /orders answered ${response.status}`);
      } catch (err) {
        // A checkout retries with the same body; the order id makes it the same order.
        if (attempt >= 5) throw err;
        await sleep(1_000 * attempt);
      }
    }
    placed.set(order.orderId, order);
  };
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ORDERS) {
        const index = next++;
        if (!killed && index >= ORDERS / 3) {
          killed = true;
          say(`killing worker-1 (SIGKILL) with ${placed.size} orders placed`);
          workers[0]!.kill('SIGKILL');
        }
        await placeOne(index);
      }
    }),
  );
  say(
    `all ${placed.size} orders accepted in ${Math.round((Date.now() - started) / 1000)} s since start; waiting for each to end`,
  );

  const views = await waitForOrdersToEnd(
    placed.keys(),
    async (orderId) => {
      const response = await fetch(`${apiUrls[0]}/orders/${orderId}`, {
        headers: { authorization: 'Bearer dev-support' },
      }).catch(() => null);
      return response?.ok ? ((await response.json()) as OrderView) : null;
    },
    { timeoutMs: SETTLE_TIMEOUT_MS },
  );
  // Duplicated callbacks arrive after the first: let them land before reading the ledger.
  await sleep(2_000);
  const { terminal, lost, byStatus, moneyMismatches, doubleCharges, problems } = judgeOrders(
    ORDERS,
    views,
    sandbox.ledger.snapshot(),
  );
  for (const problem of problems) say(problem);
  const visibility = await connectClient(config, encryptionKeys(config).keys);
  const workflows = await judgeWorkflows(visibility.client, { timeoutMs: 60_000 });
  for (const problem of workflows.problems) say(problem);
  await visibility.connection.close();

  sandbox.close();
  sandboxServer.closeAllConnections();
  await new Promise((resolve) => sandboxServer.close(resolve));
  const ok =
    lost === 0 && workflows.failed === 0 && workflows.stale === 0 && moneyMismatches === 0 && doubleCharges === 0;
  if (!ok) say(`logs kept in ${workDir}`);
  say(`${byStatus}; ${Math.round((Date.now() - started) / 1000)} s`);
  console.log(
    `[cluster] orders ${ORDERS}, terminal ${terminal.length}, lost ${lost}, failed workflows ${workflows.failed}, stale statuses ${workflows.stale}, ` +
      `money mismatches ${moneyMismatches}, double charges ${doubleCharges}` +
      ` (Temporal ${SERVER_VERSION} on PostgreSQL, 2 APIs, 2 workers, 1 killed)`,
  );
  return ok ? 0 : 1;
}

runScript(
  () =>
    main().catch((err: unknown) => {
      say(`failed: ${errorMessage(err)} (logs in ${workDir})`);
      return 1;
    }),
  {
    name: 'cluster',
    timeoutMs: RUN_TIMEOUT_MS,
    // PostgreSQL goes after its clients (the tracked children); the logs stay when the run failed.
    afterStop: async (code) => {
      stopPostgres();
      await new Promise((resolve) => log.end(resolve));
      if (code === 0 || code === 130) rmSync(workDir, { recursive: true, force: true });
    },
  },
);
