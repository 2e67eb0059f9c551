import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';

/** The newest CLI tag `go install` accepts; it embeds the Web UI and builds in pure Go. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
const PROJECT_ROOT = path.resolve(__dirname, '..');
export const TOOLS_BIN = path.join(PROJECT_ROOT, '.tools', 'bin');

function isExecutable(file: string): boolean {
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

/**
 * Finds the Temporal CLI, in the order DESIGN.md gives: `$TEMPORAL_CLI`, `temporal` on PATH,
 * `.tools/bin/temporal`; else builds it once into `.tools/bin` with Go. Returns null only where there is
 * no CLI and no Go, the one case where the SDK's own download is the fallback. Idempotent.
 */
export function ensureTemporalCli(log: (line: string) => void = (line) => console.error(line)): string | null {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`TEMPORAL_CLI is set but ${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const found = onPath('temporal') ?? (isExecutable(path.join(TOOLS_BIN, 'temporal')) ? path.join(TOOLS_BIN, 'temporal') : null);
  if (found) return found;
  if (!onPath('go')) {
    log('temporal CLI not found and Go is not installed: falling back to the SDK download of the dev server');
    return null;
  }
  log(`temporal CLI not found: building ${TEMPORAL_CLI_MODULE} into .tools/bin with Go (the first build takes a few minutes)...`);
  const seconds = goInstall([TEMPORAL_CLI_MODULE], TOOLS_BIN);
  log(`temporal CLI built in ${seconds} s: ${path.join(TOOLS_BIN, 'temporal')}`);
  return path.join(TOOLS_BIN, 'temporal');
}

/** Builds Go `modules` (pure Go, no cgo) into `gobin`; returns how many seconds it took. */
export function goInstall(modules: readonly string[], gobin: string): number {
  mkdirSync(gobin, { recursive: true });
  const started = Date.now();
  const build = spawnSync('go', ['install', ...modules], {
    env: { ...process.env, CGO_ENABLED: '0', GOBIN: gobin },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.error || build.status !== 0) throw new Error(`go install ${modules.join(' ')} failed (${build.error?.message ?? build.status ?? build.signal})`);
  return Math.round((Date.now() - started) / 1000);
}

if (require.main === module) {
  try {
    const cli = ensureTemporalCli();
    console.error(cli ? `temporal CLI: ${cli}` : 'temporal CLI: none (SDK download fallback)');
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
