import { readdirSync, readFileSync } from 'node:fs';

/** Linux's clock ticks per second in /proc/<pid>/stat. */
const CLOCK_TICKS = 100;

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** p50, p95 and p99 of `samples`, rounded; zeros for no samples. */
export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

/** Resident memory (MB) and cumulative CPU seconds of a process, from /proc. */
export function processStats(pid: number): { rssMb: number; cpuSeconds: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // Fields 24 (rss, pages) and 14-15 (utime, stime, clock ticks); Linux: 4 kB pages.
  return { rssMb: (Number(stat[21]) * 4096) / 1e6, cpuSeconds: (Number(stat[11]) + Number(stat[12])) / CLOCK_TICKS };
}

/**
 * Cumulative CPU seconds of a process and of every process below it, those already gone included (the
 * kernel adds a child's time to its parent's when it is reaped): PostgreSQL's, whose work is in its backends.
 */
export function processTreeCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // Fields 14-17: utime, stime, cutime, cstime.
  const own = (Number(stat[11]) + Number(stat[12]) + Number(stat[13]) + Number(stat[14])) / CLOCK_TICKS;
  return childrenOf(pid).reduce((sum, child) => {
    try {
      return sum + processTreeCpuSeconds(child);
    } catch {
      return sum; // gone between the listing and the read: its time is now its parent's
    }
  }, own);
}

function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
}

/** The highest resident memory (MB) a process has had since it started (the kernel's VmHWM). */
export function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return line ? Math.round(Number(line.split(/\s+/)[1]) / 1024) : 0;
}

/** One series of a metric in Prometheus's text format: its labels and its value. */
export interface MetricSeries {
  labels: Record<string, string>;
  value: number;
}

/** Every series of the metric `name` in a Prometheus text exposition (`/metrics`). */
export function metricSeries(text: string, name: string): MetricSeries[] {
  const series: MetricSeries[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const valueAt = line.lastIndexOf(' ');
    const labels: Record<string, string> = {};
    for (const [, key, value] of line.slice(name.length, valueAt).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!;
    }
    series.push({ labels, value: Number(line.slice(valueAt + 1)) });
  }
  return series;
}
