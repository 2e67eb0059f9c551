import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, WithStartWorkflowOperation } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { request } from 'undici';
import { loadConfig } from '../config';
import { orderWorkflowId } from '../domain/contract';
import type { OrderRequest } from '../domain/order-request';
import { DevServerProcess } from '../stack/dev-server-process';
import { serveApiAndSandbox, throwawayStackEnv } from '../stack/local-stack';
import { connectClient, serveSandbox, waitUntilAnswers } from '../stack/parts';
import { entrySource, runScript, stopChild, tracked } from '../stack/children';
import { ensureTemporalCli } from '../stack/temporal-cli';
import { writeWorkflowBundle } from '../worker/worker';
import { baselineCallbackSignal, rawAcceptUpdate } from './baseline-workflow';
import { BASELINE_TASK_QUEUE } from './baseline-worker';
import { renderChart } from './chart';
import { metricSeries, percentiles, processStats, processTreeCpuSeconds, type Percentiles } from '../scripts/measure';
import { setupTemporal } from '../scripts/setup-temporal';
import { startTemporalCluster } from '../stack/temporal-cluster';
import { measureStreams } from './streams';

/**
 * `npm run bench`: orders per second end to end (through the real API, worker and sandbox, `tok_ok`)
 * against a bare baseline workflow with the same activity calls and one signal, on the same server, in
 * one run. Reports throughput, latency percentiles, peak memory and CPU per concurrency, and the ratio.
 */
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    orders: { type: 'string' },
    profile: { type: 'string' },
    soak: { type: 'string' },
    breakdown: { type: 'boolean' },
    latency: { type: 'boolean' },
    streams: { type: 'string' },
    server: { type: 'string', default: 'dev' },
  },
});
/**
 * `--server cluster`: on the production shape (the full server on PostgreSQL, stack/temporal-cluster.ts)
 * instead of the dev server; the server's CPU is then the server's and PostgreSQL's.
 */
const SERVER_KINDS = ['dev', 'cluster'] as const;
type ServerKind = (typeof SERVER_KINDS)[number];
const SERVER_KIND = args.server as ServerKind;
if (!SERVER_KINDS.includes(SERVER_KIND)) {
  console.error(`--server must be one of ${SERVER_KINDS.join(', ')}, not ${args.server}`);
  process.exit(2);
}
/** `--soak N`: instead of the levels, N saga orders at SOAK_CONCURRENCY, with memory sampled every SOAK_STEP orders. */
const SOAK_ORDERS = args.soak ? Number(args.soak) : 0;
/** `--streams N`: instead of the levels, N orders each followed by a live stream (bench/streams.ts). */
const STREAMS = args.streams ? Number(args.streams) : 0;
const SOAK_CONCURRENCY = 32;
const SOAK_STEP = 1_000;
/**
 * The soak's worker and API run with this old-space limit, as in a container with a memory limit
 * (docs/DEPLOYING.md, "Kubernetes"). Without one, V8 sizes the heap from the machine's memory (about 4 GB
 * here) and lets it grow lazily: the worker's RSS then rose from 862 MB at 1,000 orders to about 1,005 at
 * 2,000 and stayed there, garbage not yet collected rather than memory held.
 */
const SOAK_HEAP_MB = 768;
const CONCURRENCIES = args.quick ? [8, 32] : [1, 8, 32, 64];
const ORDERS_PER_LEVEL = Number(args.orders ?? (args.quick ? 100 : 400));
/**
 * Saga and baseline take turns this many times per level, and each reports its median turn: a machine
 * whose speed drifts during the run (a neighbour, a GC, the server's own housekeeping) moves both alike.
 */
const ROUNDS = args.quick ? 5 : 1;
/**
 * Orders placed one at a time before a latency at concurrency 1 is timed (the probe, `--breakdown`): the
 * worker's code compiled by V8 and the connections open, as on a stack that has served a while.
 */
const WARMUP_ORDERS = 20;
/** Orders placed one at a time, each after the last has ended, to time a checkout's POST on an idle stack. */
const LATENCY_SAMPLES = args.quick ? 60 : 100;
/** The saga's happy path: validate, reserve, request payment | callback | fulfil, notify. */
const ACTIVITIES_BEFORE_SIGNAL = 3;
const ACTIVITIES_AFTER_SIGNAL = 2;
const RESULTS_DIR = path.resolve(__dirname, 'results');

/** Writes one run's results as `<kind>-<time>.json` in RESULTS_DIR (and `.svg` beside it, given a chart); returns that path without its extension. */
function writeResults(kind: string, at: Date, data: unknown, chart?: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const base = path.join(RESULTS_DIR, `${kind}-${at.toISOString().replace(/[:.]/g, '-')}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(data, null, 2)}\n`);
  if (chart !== undefined) writeFileSync(`${base}.svg`, chart);
  return base;
}

interface Level {
  concurrency: number;
  completed: number;
  seconds: number;
  perSecond: number;
  acceptMs?: Percentiles;
  endToEndMs: Percentiles;
  peak: { workerRssMb: number; workerCpuPct: number; apiRssMb: number; apiCpuPct: number };
  /** CPU time per completed order, by process: where the machine's cores go. */
  cpuMsPerOrder: { server: number; worker: number; api: number };
}
/** Stops the cluster's PostgreSQL once started; it is not a child the script tracks. */
let stopPostgres: () => void = () => {};

/** The Temporal server the bench runs on, whichever its kind. */
interface BenchServer {
  /** Its main process (memory). */
  pid: number;
  /** Its CPU seconds so far, every process of it counted. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** Samples a process's peak memory and its CPU share while `run` runs. */
async function sampled<T>(
  pids: { server: BenchServer; worker: number; api: number },
  run: () => Promise<T>,
): Promise<{ result: T; peak: Level['peak']; cpuSeconds: Record<keyof typeof pids, number> }> {
  const peak = { workerRssMb: 0, workerCpuPct: 0, apiRssMb: 0, apiCpuPct: 0 };
  const cpu = () => ({
    server: pids.server.cpuSeconds(),
    worker: processStats(pids.worker).cpuSeconds,
    api: processStats(pids.api).cpuSeconds,
  });
  const first = cpu();
  let last = { at: Date.now(), worker: first.worker, api: first.api };
  const timer = setInterval(() => {
    const now = Date.now();
    const worker = processStats(pids.worker);
    const api = processStats(pids.api);
    const seconds = (now - last.at) / 1000;
    peak.workerRssMb = Math.max(peak.workerRssMb, worker.rssMb);
    peak.apiRssMb = Math.max(peak.apiRssMb, api.rssMb);
    peak.workerCpuPct = Math.max(peak.workerCpuPct, ((worker.cpuSeconds - last.worker) / seconds) * 100);
    peak.apiCpuPct = Math.max(peak.apiCpuPct, ((api.cpuSeconds - last.api) / seconds) * 100);
    last = { at: now, worker: worker.cpuSeconds, api: api.cpuSeconds };
  }, 500);
  try {
    const result = await run();
    const end = cpu();
    const cpuSeconds = {
      server: end.server - first.server,
      worker: end.worker - first.worker,
      api: end.api - first.api,
    };
    return { result, peak: roundAll(peak), cpuSeconds };
  } finally {
    clearInterval(timer);
  }
}

function roundAll<T extends Record<string, number>>(values: T): T {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Math.round(v)])) as T;
}

/** One concurrency level's figures, from its timed, sampled run and its end-to-end latencies. */
function level(
  concurrency: number,
  run: { result: number; peak: Level['peak']; cpuSeconds: Record<keyof Level['cpuMsPerOrder'], number> },
  endToEnd: number[],
): Level {
  const perOrder = (seconds: number) => Math.round((seconds * 1000) / ORDERS_PER_LEVEL);
  return {
    concurrency,
    completed: ORDERS_PER_LEVEL,
    seconds: run.result,
    perSecond: ORDERS_PER_LEVEL / run.result,
    endToEndMs: percentiles(endToEnd),
    peak: run.peak,
    cpuMsPerOrder: {
      server: perOrder(run.cpuSeconds.server),
      worker: perOrder(run.cpuSeconds.worker),
      api: perOrder(run.cpuSeconds.api),
    },
  };
}

/**
 * Runs `count` jobs at `concurrency`. On a terminal a progress bar redraws as they finish; anywhere else
 * (CI, a log file) a frame per order would fill the log, so one line says when the level is done.
 */
async function drive(
  label: string,
  count: number,
  concurrency: number,
  job: (index: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  let done = 0;
  const started = Date.now();
  const onTerminal = process.stdout.isTTY === true;
  const draw = () => {
    const width = 30;
    const filled = Math.round((done / count) * width);
    process.stdout.write(`\r${label.padEnd(22)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${count}`);
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        await job(next++);
        done++;
        if (onTerminal) draw();
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(onTerminal ? '\n' : `${label.padEnd(22)} ${count} in ${seconds.toFixed(1)} s\n`);
  return seconds;
}

/**
 * The server to bench on: the dev server on a SQLite file in `workDir`, or the cluster. `env` is the stack's
 * environment, pointed at it.
 */
async function startServer(
  kind: ServerKind,
  cli: string,
  env: NodeJS.ProcessEnv,
  devPort: number,
  workDir: string,
): Promise<BenchServer> {
  if (kind === 'dev') {
    const dev = new DevServerProcess(cli, { port: devPort, dbFile: path.join(workDir, 'temporal.db') });
    await dev.start();
    return { pid: dev.pid!, cpuSeconds: () => processStats(dev.pid!).cpuSeconds, stop: () => dev.stop() };
  }
  // A folder of its own, not inside `workDir`: PostgreSQL runs as its own user, which must reach it.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-bench-cluster-'));
  const log = createWriteStream(path.join(dir, 'cluster.log'));
  const say = (line: string) => console.log(`[bench] ${line}`);
  const cluster = await startTemporalCluster({ workDir: dir, log, say });
  stopPostgres = cluster.stopPostgres;
  env.TEMPORAL_ADDRESS = cluster.address;
  await Promise.race([setupTemporal(loadConfig(env), say), cluster.exited]);
  return {
    pid: cluster.serverPid,
    cpuSeconds: () => processStats(cluster.serverPid).cpuSeconds + processTreeCpuSeconds(cluster.postgresPid),
    stop: async () => {
      await cluster.stop();
      await new Promise((resolve) => log.end(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cli = await ensureTemporalCli((line) => console.log(`[bench] ${line}`));
  if (!cli) throw new Error('the bench needs the Temporal CLI');
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-bench-'));
  const keys = [{ id: 'bench', key: randomBytes(32) }];
  const { env, temporalPort } = await throwawayStackEnv(path.join(workDir, 'data'), keys);
  const server = await startServer(SERVER_KIND, cli, env, temporalPort, workDir);
  // The bench measures the orchestration at each concurrency, not the API's load shedding: every order it
  // drives is admitted (at c=64 the default limit of 32 answered 503s, and the run stopped).
  env.MAX_STARTS_IN_FLIGHT = String(Math.max(...CONCURRENCIES, SOAK_CONCURRENCY));
  const config = loadConfig(env);
  const bundlePath = path.join(workDir, 'workflows.js');
  await writeWorkflowBundle(bundlePath);

  const children: ChildProcess[] = [];
  const child = (script: string, extra: Record<string, string> = {}) => {
    // `--profile DIR`: a V8 CPU profile per worker thread (workflows run in their own threads) into DIR.
    const profiling = args.profile ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(args.profile)] : [];
    const heap = SOAK_ORDERS > 0 ? [`--max-old-space-size=${SOAK_HEAP_MB}`] : [];
    const proc = tracked(
      spawn(process.execPath, [...profiling, ...heap, '--import', 'tsx', script], {
        env: { ...env, ...extra },
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
    );
    children.push(proc);
    return proc;
  };
  // The sandbox answers at once: the bench measures the orchestration, not a provider's latency.
  const sandboxOptions = { outcomeDelayMs: 0 };
  // The soak runs the API as a process of its own, so that its memory is measured apart from the sandbox's
  // books and the load driver; the levels keep it in this process, where its CPU has always been counted
  // with the driver's.
  const served =
    SOAK_ORDERS > 0 || STREAMS > 0
      ? await apiApart()
      : { ...(await serveApiAndSandbox(config, keys, sandboxOptions)), apiPid: process.pid };
  const { client, apiUrl } = served;
  const sagaWorker = child(entrySource('worker'), { WORKFLOW_BUNDLE: bundlePath });
  const baselineWorker = child(path.resolve(__dirname, 'baseline-worker.ts'));
  const baselineClient = new Client({ connection: served.connection });

  const runId = randomBytes(3).toString('hex');
  const order = (id: string): OrderRequest => ({
    orderId: id,
    customer: { id: 'c-bench', email: 'bench@example.com' },
    currency: 'EUR',
    items: [{ sku: 'SKU-TEE', quantity: 1, unitPrice: 1999 }],
    shippingAddress: { name: 'Bench', line1: '1 Load St', city: 'Paris', postalCode: '75001', country: 'FR' },
    payment: { method: 'card', token: 'tok_ok' },
  });

  // Warm both paths (bundles loaded, connections open) before measuring.
  await sleep(3_000);

  /** One order through the API to its end; returns its POST and POST-to-end latencies in ms. */
  const placeOrder = async (id: string): Promise<{ acceptMs: number; endMs: number }> => {
    const started = performance.now();
    // undici's `request`, not `fetch`: the load driver's own CPU is counted with the API's.
    const response = await request(`${apiUrl}/orders`, {
      method: 'POST',
      headers: { authorization: 'Bearer dev-checkout', 'content-type': 'application/json' },
      body: JSON.stringify(order(id)),
    });
    await response.body.dump();
    if (response.statusCode !== 201) throw new Error(`POST /orders answered ${response.statusCode}`);
    const acceptMs = performance.now() - started;
    await client.workflow.getHandle(orderWorkflowId(id)).result();
    return { acceptMs, endMs: performance.now() - started };
  };

  if (args.breakdown) {
    await breakdown();
  } else if (args.latency) {
    printProbe(await latencyProbe());
  } else if (STREAMS > 0) {
    const measured = await measureStreams({
      count: STREAMS,
      runId,
      apiUrl,
      sandboxUrl: config.sandboxUrl,
      apiPid: served.apiPid,
      serverCpuSeconds: () => server.cpuSeconds(),
      order,
    });
    const file = writeResults('streams', new Date(), measured);
    const { withoutStreams: without, withStreams: streaming, heardPaidMs } = measured;
    const signed = (n: number) => `${n < 0 ? '' : '+'}${n}`;
    const points = Number((streaming.serverCpuPct - without.serverCpuPct).toFixed(1));
    console.log(
      `streams ${STREAMS}: server CPU ${signed(points)} points over idle, ` +
        `API RSS ${signed(streaming.apiRssMb - without.apiRssMb)} MB, ` +
        `heard paid p99 ${heardPaidMs.p99} ms`,
    );
    console.log(`results in ${path.relative(process.cwd(), file)}.json`);
  } else if (SOAK_ORDERS > 0) {
    const samples: {
      orders: number;
      workerRssMb: number;
      apiRssMb: number;
      benchRssMb: number;
      serverRssMb: number;
      /** Workflows the worker holds in its cache (the SDK's sticky cache), ended ones included until evicted. */
      cachedWorkflows: number;
      perSecond: number;
    }[] = [];
    for (let done = 0; done < SOAK_ORDERS;) {
      // The last step may be short: --soak 1500 places 1,500 orders, not 2,000.
      const step = Math.min(SOAK_STEP, SOAK_ORDERS - done);
      const seconds = await drive(`soak ${done + step}`, step, SOAK_CONCURRENCY, async (index) => {
        await placeOrder(`S-${runId}-${done + index}`);
      });
      const rss = (pid: number) => Math.round(processStats(pid).rssMb);
      done += step;
      samples.push({
        orders: done,
        workerRssMb: rss(sagaWorker.pid!),
        apiRssMb: rss(served.apiPid),
        benchRssMb: rss(process.pid),
        serverRssMb: rss(server.pid),
        cachedWorkflows: metricSeries(await workerMetrics(), 'temporal_sticky_cache_size')[0]?.value ?? 0,
        perSecond: Number((step / seconds).toFixed(1)),
      });
    }
    const file = writeResults('soak', new Date(), {
      concurrency: SOAK_CONCURRENCY,
      heapLimitMb: SOAK_HEAP_MB,
      samples,
    });
    const columns = [
      'orders',
      'worker RSS MB',
      'cached workflows',
      'API RSS MB',
      'sandbox + driver RSS MB',
      'server RSS MB',
      'orders/s',
    ];
    console.log(`\n${columns.join(' | ')}`);
    for (const { orders, workerRssMb, cachedWorkflows, apiRssMb, benchRssMb, serverRssMb, perSecond } of samples) {
      const cells = [orders, workerRssMb, cachedWorkflows, apiRssMb, benchRssMb, serverRssMb, perSecond];
      console.log(cells.map((cell, i) => String(cell).padStart(columns[i]!.length)).join(' | '));
    }
    console.log(`results in ${path.relative(process.cwd(), file)}.json`);
  } else {
    await compare();
  }

  await Promise.all(children.map((proc) => stopChild(proc)));
  await served.close();
  await server.stop();
  rmSync(workDir, { recursive: true, force: true });

  /** The sandbox in this process and the API as a child (bin/api.ts) on the configured port. */
  async function apiApart() {
    const { close: closeSandbox } = await serveSandbox(config, sandboxOptions);
    const connected = await connectClient(config, keys);
    const api = child(entrySource('api'));
    const url = `http://127.0.0.1:${config.apiPort}`;
    await waitUntilAnswers(`${url}/healthz`);
    return {
      ...connected,
      apiUrl: url,
      apiPid: api.pid!,
      async close(): Promise<void> {
        await closeSandbox();
        await connected.connection.close();
      },
    };
  }

  /**
   * `--breakdown`: one order at concurrency 1 on a warm, idle stack, as a timeline from its POST: each
   * history event at the server's time (the same machine's clock as the POST's), and where the time went:
   * the API and the server before the workflow started, the server handing tasks to the worker, the worker
   * running workflow tasks, and each activity's call.
   */
  async function breakdown(): Promise<void> {
    for (let i = 0; i < WARMUP_ORDERS; i++) await placeOrder(`W-${runId}-${i}`);
    const id = `D-${runId}`;
    // Local activities leave no timed events in history: the worker's own metrics time them.
    const before = await localActivitySeconds();
    const postedAt = Date.now();
    const { acceptMs, endMs } = await placeOrder(id);
    const after = await localActivitySeconds();
    const events = (await client.workflow.getHandle(orderWorkflowId(id)).fetchHistory()).events ?? [];
    const at = (event: (typeof events)[number]) => tsToMs(event.eventTime) - postedAt;
    const name = (event: (typeof events)[number]) =>
      temporal.api.enums.v1.EventType[event.eventType!]!.replace('EVENT_TYPE_', '');
    const byId = new Map(events.map((event) => [Number(event.eventId), event]));
    const activityOf = (scheduledId: unknown) =>
      byId.get(Number(scheduledId))?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';

    console.log(
      `\none order at c=1 after ${WARMUP_ORDERS} warm-up orders: POST answered in ${acceptMs.toFixed(0)} ms, ended at ${endMs.toFixed(0)} ms`,
    );
    console.log('   ms from POST | +ms | history event');
    let previous = 0;
    const spans = {
      dispatchMs: 0,
      workflowTaskMs: 0,
      workflowTasks: 0,
      activities: [] as { type: string; dispatchMs: number; runMs: number }[],
    };
    for (const event of events) {
      const ms = at(event);
      const detail = event.activityTaskScheduledEventAttributes
        ? ` ${event.activityTaskScheduledEventAttributes.activityType?.name}`
        : event.activityTaskCompletedEventAttributes
          ? ` ${activityOf(event.activityTaskCompletedEventAttributes.scheduledEventId)}`
          : '';
      console.log(
        `${ms.toFixed(0).padStart(15)} | ${(ms - previous).toFixed(0).padStart(3)} | ${name(event)}${detail}`,
      );
      previous = ms;
      const started = event.workflowTaskStartedEventAttributes;
      if (started) spans.dispatchMs += ms - at(byId.get(Number(started.scheduledEventId))!);
      const completed = event.workflowTaskCompletedEventAttributes;
      if (completed) {
        spans.workflowTaskMs += ms - at(byId.get(Number(completed.startedEventId))!);
        spans.workflowTasks++;
      }
      const done = event.activityTaskCompletedEventAttributes;
      if (done) {
        const startedEvent = byId.get(Number(done.startedEventId))!;
        const scheduledEvent = byId.get(Number(done.scheduledEventId))!;
        spans.activities.push({
          type: activityOf(done.scheduledEventId),
          dispatchMs: at(startedEvent) - at(scheduledEvent),
          runMs: ms - at(startedEvent),
        });
      }
    }
    const firstEvent = events[0]!;
    console.log(
      `\n${events.length} events; the workflow started ${at(firstEvent).toFixed(0)} ms after the POST left the client`,
    );
    console.log(
      `${spans.workflowTasks} workflow tasks: ${spans.workflowTaskMs.toFixed(0)} ms running on the worker, ${spans.dispatchMs.toFixed(0)} ms from scheduled to started`,
    );
    for (const activity of spans.activities) {
      console.log(
        `activity ${activity.type}: ${activity.dispatchMs.toFixed(0)} ms scheduled to started, ${activity.runMs.toFixed(0)} ms started to completed`,
      );
    }
    for (const [type, seconds] of after) {
      const ms = (seconds - (before.get(type) ?? 0)) * 1000;
      if (ms > 0) console.log(`local activity ${type}: ${ms.toFixed(1)} ms running in the worker`);
    }
  }

  async function workerMetrics(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${config.workerMetricsPort}/metrics`)).text();
  }

  /** Seconds spent running local activities so far, by activity type, from the saga worker's metrics. */
  async function localActivitySeconds(): Promise<Map<string, number>> {
    const text = await workerMetrics();
    const sums = new Map<string, number>();
    for (const { labels, value } of metricSeries(text, 'temporal_local_activity_execution_latency_sum')) {
      if (labels.activity_type) sums.set(labels.activity_type, value);
    }
    return sums;
  }

  /**
   * A checkout's POST at concurrency 1 on an idle, warm stack, against the least it could cost: a raw
   * update-with-start of an empty workflow that answers at once, on the same server, turn and turn about,
   * each path warmed by the same number of calls first.
   * Also how many history events a happy order writes.
   */
  async function latencyProbe() {
    const rawAccept = async (id: string): Promise<number> => {
      const started = performance.now();
      await baselineClient.workflow.executeUpdateWithStart(rawAcceptUpdate, {
        startWorkflowOperation: new WithStartWorkflowOperation('rawAcceptWorkflow', {
          workflowId: id,
          taskQueue: BASELINE_TASK_QUEUE,
          workflowIdConflictPolicy: 'FAIL',
        }),
      });
      return performance.now() - started;
    };
    for (let i = 0; i < WARMUP_ORDERS; i++) {
      await placeOrder(`LW-${runId}-${i}`);
      await rawAccept(`raw-warm-${runId}-${i}`);
    }
    const saga: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      saga.push((await placeOrder(`L-${runId}-${i}`)).acceptMs);
      raw.push(await rawAccept(`raw-${runId}-${i}`));
    }
    // The last, warm order: the first one's workflow task can meet a cold cache and write more.
    const { events } = await client.workflow
      .getHandle(orderWorkflowId(`L-${runId}-${LATENCY_SAMPLES - 1}`))
      .fetchHistory();
    // The ratio from the exact medians: a raw round trip is a few milliseconds, too few to round first.
    const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
    return {
      sagaPostMs: percentiles(saga),
      rawMs: percentiles(raw),
      postLatencyRatio: median(saga) / median(raw),
      historyEvents: events?.length ?? 0,
    };
  }

  /** The turn whose throughput is the median of `turns`. */
  function medianTurn(turns: Level[]): Level {
    return [...turns].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(turns.length / 2)]!;
  }

  /** The saga against the baseline, level by level; prints the table and the ratios. */
  async function compare(): Promise<void> {
    const probe = await latencyProbe();
    const saga: Level[] = [];
    const baseline: Level[] = [];
    for (const concurrency of CONCURRENCIES) {
      const sagaTurns: Level[] = [];
      const baselineTurns: Level[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const label = (who: string) => `${who} c=${concurrency}${ROUNDS > 1 ? ` #${round + 1}` : ''}`;
        const accept: number[] = [];
        const endToEnd: number[] = [];
        const sagaRun = await sampled({ server, worker: sagaWorker.pid!, api: served.apiPid }, () =>
          drive(label('saga'), ORDERS_PER_LEVEL, concurrency, async (index) => {
            const latency = await placeOrder(`B-${runId}-${concurrency}-${round}-${index}`);
            accept.push(latency.acceptMs);
            endToEnd.push(latency.endMs);
          }),
        );
        sagaTurns.push({ ...level(concurrency, sagaRun, endToEnd), acceptMs: percentiles(accept) });

        const bare: number[] = [];
        const baseRun = await sampled({ server, worker: baselineWorker.pid!, api: served.apiPid }, () =>
          drive(label('baseline'), ORDERS_PER_LEVEL, concurrency, async (index) => {
            const started = performance.now();
            const handle = await baselineClient.workflow.start('baselineWorkflow', {
              taskQueue: BASELINE_TASK_QUEUE,
              workflowId: `baseline-${runId}-${concurrency}-${round}-${index}`,
              args: [ACTIVITIES_BEFORE_SIGNAL, ACTIVITIES_AFTER_SIGNAL],
            });
            await handle.signal(baselineCallbackSignal);
            await handle.result();
            bare.push(performance.now() - started);
          }),
        );
        baselineTurns.push(level(concurrency, baseRun, bare));
      }
      saga.push(medianTurn(sagaTurns));
      baseline.push(medianTurn(baselineTurns));
    }

    const bestSaga = Math.max(...saga.map((level) => level.perSecond));
    const bestBaseline = Math.max(...baseline.map((level) => level.perSecond));
    const ratio = bestSaga / bestBaseline;
    const { postLatencyRatio } = probe;
    const at = new Date();
    const report = {
      at: at.toISOString(),
      machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 1e9), node: process.version },
      server: SERVER_KIND,
      ordersPerLevel: ORDERS_PER_LEVEL,
      rounds: ROUNDS,
      latency: { samples: LATENCY_SAMPLES, sagaPostMs: probe.sagaPostMs, rawUpdateWithStartMs: probe.rawMs },
      historyEvents: probe.historyEvents,
      saga,
      baseline,
      ratio: Number(ratio.toFixed(2)),
      postLatencyRatio: Number(postLatencyRatio.toFixed(2)),
    };
    const kind = SERVER_KIND === 'cluster' ? 'bench-cluster' : 'bench';
    const results = writeResults(kind, at, report, renderChart(saga, baseline));

    console.log(
      `\nconcurrency | saga orders/s | baseline/s | POST p50/p95/p99 ms | to CONFIRMED p50/p99 ms | worker peak MB / CPU% | API peak MB / CPU%${ROUNDS > 1 ? ` (median of ${ROUNDS} turns)` : ''}`,
    );
    for (const [i, level] of saga.entries()) {
      const base = baseline[i]!;
      console.log(
        `${String(level.concurrency).padStart(11)} | ${level.perSecond.toFixed(1).padStart(13)} | ${base.perSecond.toFixed(1).padStart(10)} | ` +
          `${level.acceptMs!.p50}/${level.acceptMs!.p95}/${level.acceptMs!.p99}`.padStart(19) +
          ` | ${`${level.endToEndMs.p50}/${level.endToEndMs.p99}`.padStart(23)} | ${`${level.peak.workerRssMb} / ${level.peak.workerCpuPct}`.padStart(21)} | ${level.peak.apiRssMb} / ${level.peak.apiCpuPct}`,
      );
    }
    console.log('\nCPU ms per order (server / worker / API and bench driver), saga vs baseline');
    for (const [i, level] of saga.entries()) {
      const cost = (l: Level) => `${l.cpuMsPerOrder.server} / ${l.cpuMsPerOrder.worker} / ${l.cpuMsPerOrder.api}`;
      console.log(`c=${level.concurrency}: ${cost(level)} vs ${cost(baseline[i]!)}`);
    }
    console.log(`results in ${path.relative(process.cwd(), results)}.{json,svg}`);
    printProbe(probe);
    console.log(`ratio ${ratio.toFixed(2)}`);
  }

  /** The latency probe's lines: the POST and raw percentiles, then two of the lines the goal is stated in. */
  function printProbe({
    sagaPostMs,
    rawMs,
    historyEvents,
    postLatencyRatio,
  }: Awaited<ReturnType<typeof latencyProbe>>) {
    console.log(
      `\nPOST /orders at c=1, ${LATENCY_SAMPLES} orders: p50/p95 ${sagaPostMs.p50}/${sagaPostMs.p95} ms; raw update-with-start: ${rawMs.p50}/${rawMs.p95} ms`,
    );
    console.log(`history-events ${historyEvents}`);
    console.log(`post-latency-ratio ${postLatencyRatio.toFixed(2)}`);
  }
}

runScript(() => main().then(() => 0), {
  name: 'bench',
  // A run stopped or failed midway: PostgreSQL goes after its clients (the tracked children).
  afterStop: () => stopPostgres(),
});
