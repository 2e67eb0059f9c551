import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { errorMessage } from '../domain/errors';
import { killChild, tracked } from './children';
import { TOOLS_BIN } from './pinned-wheel';
import { isExecutable } from './temporal-cli';

/**
 * stripe-mock, Stripe's official mock of its API (https://github.com/stripe/stripe-mock): it checks every
 * request against Stripe's OpenAPI document and answers with Stripe's fixtures. Built from its Go module,
 * pinned by version (the module proxy's checksum database vouches for the source), into .tools/bin.
 */
const MODULE = 'github.com/stripe/stripe-mock';
const VERSION = 'v0.203.0';
const PROVISIONED = path.join(TOOLS_BIN, 'stripe-mock');
const PROVISIONED_VERSION = path.join(TOOLS_BIN, 'stripe-mock.version');
/** How long a test's stripe-mock may run before it stops by itself. */
const MAX_RUN_MS = 10 * 60_000;

/** The pinned stripe-mock in .tools/bin, built with `go install` once (about 10 s). Idempotent. */
export async function ensureStripeMock(log: (line: string) => void = (line) => console.error(line)): Promise<string> {
  if (isExecutable(PROVISIONED) && existsSync(PROVISIONED_VERSION)) {
    if (readFileSync(PROVISIONED_VERSION, 'utf8').trim() === VERSION) return PROVISIONED;
  }
  const started = Date.now();
  await promisify(execFile)('go', ['install', `${MODULE}@${VERSION}`], {
    env: { ...process.env, GOBIN: TOOLS_BIN },
  });
  writeFileSync(PROVISIONED_VERSION, `${VERSION}\n`);
  log(`stripe-mock: ${VERSION} built into .tools/bin after ${Math.round((Date.now() - started) / 1000)} s`);
  return PROVISIONED;
}

/** Runs stripe-mock on a free loopback port (HTTP only in use), until `stop` or ten minutes. */
export async function startStripeMock(): Promise<{ url: string; stop(): Promise<void> }> {
  const binary = await ensureStripeMock();
  const child = tracked(
    spawn(binary, ['-http-addr', '127.0.0.1:', '-https-addr', '127.0.0.1:'], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const timer = setTimeout(() => void killChild(child), MAX_RUN_MS);
  timer.unref();
  const lines = createInterface({ input: child.stdout! });
  let url: string | null = null;
  for await (const line of lines) {
    const address = /Listening for HTTP at address: (\S+)/.exec(line)?.[1];
    if (address) {
      url = `http://${address}`;
      break;
    }
  }
  if (!url) throw new Error(`stripe-mock exited (${child.exitCode}) before it listened`);
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    url,
    async stop() {
      clearTimeout(timer);
      await killChild(child);
    },
  };
}

if (require.main === module) {
  ensureStripeMock().then(
    (binary) => console.error(`stripe-mock: ${binary}`),
    (err: unknown) => {
      console.error(errorMessage(err));
      process.exit(1);
    },
  );
}
