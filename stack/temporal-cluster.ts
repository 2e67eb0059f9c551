import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './parts';
import { startLogged, stopChild } from './children';
import { goInstall, TOOLS_BIN } from './temporal-cli';
import { SERVER_DYNAMIC_CONFIG, withoutOtelVariables } from './dev-server-process';
import { ensurePostgres, runLogged, startPostgres, type PostgresOptions } from './postgres';

/**
 * The production shape of Temporal on this machine, for `npm run test:cluster` and
 * `npm run bench -- --server cluster`: the full server built with Go (and its SQL tool), on a private
 * PostgreSQL from Debian's packages, its schemas laid by deploy/temporal/setup-schema.sh (the script compose
 * runs), every service on a free loopback port, the settings every server of ours reads. Everything it
 * starts lives in `workDir`; its output goes to `log`.
 */
export const CLUSTER_SERVER_VERSION = 'v1.31.2';
const SERVER_MODULES = [
  `go.temporal.io/server/cmd/server@${CLUSTER_SERVER_VERSION}`,
  `go.temporal.io/server/cmd/tools/sql@${CLUSTER_SERVER_VERSION}`,
];
const SERVER_BIN = path.join(TOOLS_BIN, `temporal-server-${CLUSTER_SERVER_VERSION}`);
const PASSWORD = 'temporal';

export interface TemporalCluster {
  /** The frontend's gRPC address. */
  address: string;
  /** The store of record on the same PostgreSQL (`ORDER_STORE_URL`). */
  orderStoreUrl: string;
  /** The server's process and PostgreSQL's main one, whose children are its backends. */
  serverPid: number;
  postgresPid: number;
  /** Rejects if the server exits before {@link TemporalCluster.stop}. */
  exited: Promise<never>;
  /** Stops the server, then PostgreSQL. */
  stop(): Promise<void>;
  /** Stops PostgreSQL alone (at the end, once the server and its other clients are gone; or as an outage). */
  stopPostgres(): void;
  /** Starts PostgreSQL again on its data, after {@link stopPostgres}. */
  startPostgres(): void;
  /** Stops the Temporal server alone, PostgreSQL left running; {@link startServer} starts it again. */
  stopServer(): Promise<void>;
  startServer(): void;
  /**
   * Backs up Temporal's two databases and the store of record with pg_dump into `dir` (visibility first,
   * then the main one, then the store: see docs/OPERATIONS.md); returns the files' total size.
   */
  dumpDatabases(dir: string): number;
  /** Drops the databases and restores them from `dir` (the server must be stopped). */
  restoreDatabases(dir: string): void;
}

/** The store of record's database, beside Temporal's on the same PostgreSQL. */
const ORDER_STORE_DATABASE = 'orders';
/**
 * The databases, in the order they are dumped: visibility, then Temporal's main store, then the store of
 * record, whose every order Temporal's end was written to before it completed.
 */
const DATABASES = ['temporal_visibility', 'temporal', ORDER_STORE_DATABASE] as const;

/** Where the cluster lives and tells what it does: its PostgreSQL's options. */
export type ClusterOptions = PostgresOptions;

/** The server's configuration: PostgreSQL for persistence and visibility, every service on a free loopback port. */
async function writeServerConfig(workDir: string, postgresPort: number): Promise<{ frontend: number; file: string }> {
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
    default:${store(DATABASES[1], 20)}
    visibility:${store(DATABASES[0], 10)}
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

/** The full server and its SQL tool, built once with Go into .tools/bin; and the schema files of the same version. */
function ensureServer(say: (line: string) => void): { server: string; sql: string; schemaDir: string } {
  const server = path.join(SERVER_BIN, 'server');
  const sql = path.join(SERVER_BIN, 'sql');
  if (!existsSync(server) || !existsSync(sql)) {
    say(
      `building the Temporal server ${CLUSTER_SERVER_VERSION} and its SQL tool with Go (the first build takes several minutes)...`,
    );
    say(`built in ${goInstall(SERVER_MODULES, SERVER_BIN)} s`);
  }
  const goEnv = spawnSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' });
  if (goEnv.error || goEnv.status !== 0)
    throw new Error('Go is needed for the server schema files (go env GOMODCACHE failed)');
  const modCache = goEnv.stdout.trim();
  const schemaDir = path.join(
    modCache,
    `go.temporal.io/server@${CLUSTER_SERVER_VERSION}`,
    'schema',
    'postgresql',
    'v12',
  );
  if (!existsSync(schemaDir)) throw new Error(`no schema files at ${schemaDir}`);
  return { server, sql, schemaDir };
}

export async function startTemporalCluster(options: ClusterOptions): Promise<TemporalCluster> {
  const { workDir, log, say } = options;
  const { server, sql, schemaDir } = ensureServer(say);
  const postgres = await startPostgres(ensurePostgres(options), options);
  say(`PostgreSQL on 127.0.0.1:${postgres.port}; laying the schemas with deploy/temporal/setup-schema.sh`);
  runLogged(log, 'sh', [path.resolve(__dirname, '..', 'deploy', 'temporal', 'setup-schema.sh')], {
    ...process.env,
    SQL_TOOL: sql,
    SQL_HOST: '127.0.0.1',
    SQL_PORT: String(postgres.port),
    SQL_PASSWORD: PASSWORD,
    SCHEMA_DIR: schemaDir,
  });
  const { frontend, file } = await writeServerConfig(workDir, postgres.port);
  const args = ['--config-file', file, '--allow-no-auth', 'start'];
  let stopping = false;
  const launch = () => {
    const child = startLogged(log, 'temporal', server, args, withoutOtelVariables(process.env));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => {
        if (!stopping) reject(new Error(`the Temporal server exited (${code ?? signal}); see its lines in the log`));
      }),
    );
    // Only those who wait on it care; an exit at the end of the run is expected.
    exited.catch(() => undefined);
    return { child, exited };
  };
  let temporal = launch();
  say(`Temporal server ${CLUSTER_SERVER_VERSION} starting on 127.0.0.1:${frontend}`);
  const asPostgres = (dir: string) => {
    if (process.getuid?.() === 0) runLogged(log, 'chown', ['-R', 'postgres:postgres', dir]);
  };
  return {
    address: `127.0.0.1:${frontend}`,
    orderStoreUrl: `postgres://temporal@127.0.0.1:${postgres.port}/${ORDER_STORE_DATABASE}`,
    serverPid: temporal.child.pid!,
    postgresPid: postgres.pid,
    exited: temporal.exited,
    stopPostgres: postgres.stop,
    startPostgres: postgres.start,
    async stop() {
      stopping = true;
      await stopChild(temporal.child);
      postgres.stop();
    },
    async stopServer() {
      stopping = true;
      await stopChild(temporal.child);
    },
    startServer() {
      stopping = false;
      temporal = launch();
    },
    dumpDatabases(dir: string): number {
      mkdirSync(dir, { recursive: true });
      asPostgres(dir);
      for (const database of DATABASES)
        postgres.tool('pg_dump', ['--format=custom', '--file', path.join(dir, `${database}.dump`), database]);
      return DATABASES.reduce((sum, database) => sum + statSync(path.join(dir, `${database}.dump`)).size, 0);
    },
    restoreDatabases(dir: string): void {
      for (const database of DATABASES) {
        postgres.tool('dropdb', ['--force', '--if-exists', database]);
        postgres.tool('createdb', [database]);
        postgres.tool('pg_restore', ['--dbname', database, path.join(dir, `${database}.dump`)]);
      }
    },
  };
}
