import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { freePort } from './parts';

/**
 * A private PostgreSQL from Debian's packages: the production shape's database (Temporal's and the store
 * of record's), and the store tests'.
 */
export interface PostgresOptions {
  workDir: string;
  log: WriteStream;
  say: (line: string) => void;
}

/** Runs a command to its end; its output goes to the log, and a failure names its last line. */
export function runLogged(
  log: WriteStream,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): void {
  const result = spawnSync(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  log.write(`$ ${command} ${args.join(' ')}\n${result.stdout}${result.stderr}`);
  if (result.status !== 0)
    throw new Error(
      `${path.basename(command)} ${args[0] ?? ''} exited ${result.status ?? result.signal}: ${result.stderr.trim().split('\n').pop()}`,
    );
}

/** Debian's PostgreSQL binaries, installed with apt-get when missing. */
export function ensurePostgres({ log, say }: PostgresOptions): string {
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
  runLogged(log, 'apt-get', ['update', '-qq']);
  runLogged(log, 'apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], {
    ...process.env,
    DEBIAN_FRONTEND: 'noninteractive',
  });
  const installed = find();
  if (!installed) throw new Error('postgresql installed, but no initdb under /usr/lib/postgresql');
  return installed;
}

/** A private PostgreSQL on a free loopback port, in the run's directory; as the `postgres` user when we are root. */
export async function startPostgres(
  bin: string,
  { workDir, log }: PostgresOptions,
): Promise<{
  port: number;
  pid: number;
  stop: () => void;
  /** Starts it again after {@link stop}, on the same port and data. */
  start: () => void;
  tool: (name: string, args: string[]) => void;
}> {
  const dataDir = path.join(workDir, 'postgres');
  mkdirSync(dataDir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) runLogged(log, 'chown', ['-R', 'postgres:postgres', workDir]);
  const as = (command: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  runLogged(log, ...as(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'temporal', '--auth=trust', '-E', 'UTF8']));
  const port = await freePort();
  // pg_ctl starts it in the background and waits until it takes connections; it is also the one way it stops.
  // A throwaway database: durability traded for speed.
  const options = `-p ${port} -h 127.0.0.1 -k ${dataDir} -c fsync=off -c synchronous_commit=off -c max_connections=200`;
  const stop = () =>
    void spawnSync(...as(path.join(bin, 'pg_ctl'), ['-D', dataDir, 'stop', '-m', 'fast', '-w', '-t', '20']), {
      stdio: 'ignore',
    });
  const start = () =>
    runLogged(
      log,
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
  start();
  // The postmaster's pid is the first line of its lock file.
  const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const tool = (name: string, args: string[]) =>
    runLogged(log, ...as(path.join(bin, name), ['-h', '127.0.0.1', '-p', String(port), '-U', 'temporal', ...args]));
  return { port, pid, stop, start, tool };
}
