import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { parse } from 'yaml';
import { killChild, stopChild, tracked } from './children';
import { ALL_ORDER_SEARCH_ATTRIBUTES } from '../domain/search-attributes';

const READY_TIMEOUT_MS = 60_000;
/**
 * SQLite settings for a dev server that takes many small writes (every transition updates history and
 * visibility): write-ahead logging, and fsync at checkpoints rather than at every commit.
 */
const DEV_SERVER_SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

/** The dev server's flags for {@link DEV_SERVER_SQLITE_PRAGMAS}. */
function devServerSqliteArgs(): string[] {
  return DEV_SERVER_SQLITE_PRAGMAS.flatMap((pragma) => ['--sqlite-pragma', pragma]);
}

/** The server settings every Temporal server of ours runs with (compose's and the cluster test's read the file itself). */
export const SERVER_DYNAMIC_CONFIG = path.resolve(__dirname, '..', 'deploy', 'temporal', 'dynamic-config.yaml');

/** {@link SERVER_DYNAMIC_CONFIG} as the dev server's `--dynamic-config-value KEY=JSON` flags. */
export function devServerDynamicConfigArgs(): string[] {
  const settings = parse(readFileSync(SERVER_DYNAMIC_CONFIG, 'utf8')) as Record<string, { value: unknown }[]>;
  return Object.entries(settings).flatMap(([key, [setting]]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(setting!.value)}`,
  ]);
}

/**
 * The environment without the `OTEL_*` variables: they configure our tracing, and the dev server (Go) would
 * read them for its own and refuses to start on values it does not know, such as `console`.
 */
export function withoutOtelVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !isOtelVariable(key)));
}

export function isOtelVariable(name: string): boolean {
  return name.startsWith('OTEL_');
}

export interface DevServerOptions {
  port: number;
  /** The SQLite file: the server's whole state, kept across restarts. */
  dbFile: string;
  namespace?: string;
  /** The Web UI, with the codec endpoint it decodes payloads through; none when absent. */
  ui?: { port: number; codecEndpoint: string };
  /** Where the server's own log lines go. */
  log?: (chunk: Buffer) => void;
}

/**
 * The Temporal dev server as a child process on a SQLite file, on loopback: for `npm start`, and for runs
 * that stop, kill and restart it with its database kept (chaos, bench). It runs in a process group of its
 * own, so a Ctrl-C at the terminal reaches only us, and we stop it last, after the parts that use it.
 */
export class DevServerProcess {
  private child: ChildProcess | null = null;
  readonly port: number;

  constructor(
    private readonly cli: string,
    private readonly options: DevServerOptions,
  ) {
    this.port = options.port;
  }

  /** The server's process id while it runs (the bench reads its CPU time). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const { dbFile, namespace, ui, log = () => {} } = this.options;
    const searchAttributes = ALL_ORDER_SEARCH_ATTRIBUTES.flatMap((key) => [
      '--search-attribute',
      `${key.name}=${key.type}`,
    ]);
    const uiArgs = ui ? ['--ui-port', String(ui.port), '--ui-codec-endpoint', ui.codecEndpoint] : ['--headless'];
    const args = [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(this.port),
      ...uiArgs,
      '--db-filename',
      dbFile,
      ...(namespace ? ['--namespace', namespace] : []),
      '--log-level',
      'error',
      ...searchAttributes,
      ...devServerSqliteArgs(),
      ...devServerDynamicConfigArgs(),
    ];
    this.child = tracked(
      spawn(this.cli, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: withoutOtelVariables(process.env),
        detached: true,
      }),
    );
    this.child.stdout!.on('data', log);
    this.child.stderr!.on('data', log);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`the dev server exited with ${this.child.exitCode}`);
      try {
        const connection = await Connection.connect({ address: this.address, connectTimeout: 1_000 });
        await connection.workflowService.getSystemInfo({});
        await connection.close();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`the dev server did not answer within ${READY_TIMEOUT_MS} ms`);
        await sleep(250);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child);
    this.child = null;
  }

  /** Kills the server outright (SIGKILL), as a crash or an out-of-memory kill would: nothing is flushed. */
  async kill(): Promise<void> {
    if (this.child) await killChild(this.child);
    this.child = null;
  }
}
