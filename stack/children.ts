import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Writable } from 'node:stream';

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Stops a child: SIGTERM (a worker drains, a server shuts down cleanly), then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Kills a child outright (SIGKILL), as a crash or an out-of-memory kill would, and waits for its exit. */
export async function killChild(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** The children this process started and has not seen exit. */
const running = new Set<ChildProcess>();

/**
 * Registers a child for {@link runScript} to stop at the end, however the run ends. A child spawned
 * without it outlives a script that fails: nothing kills a child when its parent exits.
 */
export function tracked(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/**
 * Starts a long-running child, {@link tracked}, whose output goes to `log`, each chunk prefixed with
 * `[name]`: the parts of a run whose lines belong in its log file, not on the terminal.
 */
export function startLogged(
  log: Writable,
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  const child = tracked(spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stdout!.on('data', (chunk: Buffer) => log.write(`[${name}] ${chunk}`));
  child.stderr!.on('data', (chunk: Buffer) => log.write(`[${name}] ${chunk}`));
  return child;
}

export interface ScriptOptions {
  /** The prefix of the script's own lines, e.g. `chaos`. */
  name: string;
  /** Past this, the run is stopped and fails (exit code 2). */
  timeoutMs?: number;
  /** Runs after the tracked children are stopped, before the exit: what must go last (a database), logs. */
  afterStop?: (code: number) => Promise<void> | void;
}

/**
 * Calls `stop` on the first SIGINT or SIGTERM and on none after it. Every signal is handled, not only the
 * first: a terminal's Ctrl-C or a supervisor signals the whole process group, and npm relays it to the
 * script too, so it often comes twice; with a one-shot handler the second one kills the process halfway
 * through its stop (it left `npm start`'s dev server running on its port).
 */
export function onStopSignals(stop: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      stop(signal);
    });
  }
}

/**
 * Runs a script's `main` and exits with its code. However the run ends (its code, a failure, the
 * deadline, SIGINT or SIGTERM), the tracked children are stopped first, so no server or worker is left
 * holding ports and polling after it.
 */
export function runScript(main: () => Promise<number>, { name, timeoutMs, afterStop }: ScriptOptions): void {
  let ending = false;
  const end = (code: number) => {
    if (ending) return;
    ending = true;
    void Promise.all([...running].map((child) => stopChild(child, 15_000)))
      .then(() => afterStop?.(code))
      .finally(() => process.exit(code));
  };
  onStopSignals((signal) => {
    if (!ending) console.error(`[${name}] ${signal}: stopping`);
    end(130);
  });
  if (timeoutMs !== undefined) {
    setTimeout(() => {
      console.error(`[${name}] the run took longer than ${Math.round(timeoutMs / 1000)} s: stopping`);
      end(2);
    }, timeoutMs).unref();
  }
  main().then(end, (err: unknown) => {
    console.error(`[${name}] failed:`, err instanceof Error ? err.stack : err);
    end(1);
  });
}

/**
 * A child process kept running as an orchestrator keeps a service: restarted whenever it exits on its
 * own. A planned kill ({@link kill}) is not restarted until {@link start} is called again.
 */
export class SupervisedChild {
  private child: ChildProcess | null = null;
  private supervising = false;
  /** Exits the supervisor did not cause (crashes), each followed by a restart. */
  unplannedExits = 0;

  constructor(
    private readonly name: string,
    private readonly spawnChild: () => ChildProcess,
    private readonly say: (line: string) => void,
    private readonly restartAfterMs = 1_000,
  ) {}

  /** The running child's process id. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.supervising = true;
    const child = tracked(this.spawnChild());
    child.once('exit', (code, signal) => {
      if (!this.supervising || this.child !== child) return;
      this.unplannedExits++;
      this.say(`${this.name} exited (${code ?? signal}): restarting it`);
      setTimeout(() => this.supervising && this.child === child && this.start(), this.restartAfterMs);
    });
    this.child = child;
  }

  /** SIGKILL, as a crash or an out-of-memory kill would end it; it stays down until {@link start}. */
  async kill(): Promise<void> {
    this.supervising = false;
    if (this.child) await killChild(this.child);
  }

  /** Stops supervising, then stops the child gracefully. */
  async stop(): Promise<void> {
    this.supervising = false;
    if (this.child) await stopChild(this.child);
  }
}

/** The entry points (bin/), one process each, by name: one place for their paths. */
const ENTRY_POINTS = { api: 'bin/api', worker: 'bin/worker', sandbox: 'bin/sandbox' } as const;
export type EntryPoint = keyof typeof ENTRY_POINTS;
export const ALL_ENTRY_POINTS = Object.keys(ENTRY_POINTS) as EntryPoint[];

/** An entry point's source, as tsx runs it. */
export function entrySource(entry: EntryPoint): string {
  return path.resolve(__dirname, '..', `${ENTRY_POINTS[entry]}.ts`);
}

/** An entry point as `npm run build` compiles it under `dist`. */
export function entryCompiled(entry: EntryPoint, dist: string): string {
  return path.join(dist, `${ENTRY_POINTS[entry]}.js`);
}

/**
 * One of the project's entry points as a supervised Node process run through tsx, with `env`; every chunk
 * it writes goes to `onOutput`.
 */
export function supervisedEntry(
  name: string,
  entry: EntryPoint,
  { env, onOutput, say }: { env: NodeJS.ProcessEnv; onOutput: (chunk: Buffer) => void; say: (line: string) => void },
): SupervisedChild {
  return new SupervisedChild(
    name,
    () => {
      const child = spawn(process.execPath, ['--import', 'tsx', entrySource(entry)], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', onOutput);
      child.stderr!.on('data', onOutput);
      return child;
    },
    say,
  );
}
