import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startLocalStack, throwawayLocalStackConfig } from '../stack/local-stack';
import { Scope } from '../config';
import { SANDBOX_CATALOG } from '../sandbox/ledger';
import { runScript, tracked } from '../stack/children';

/**
 * Property-based fuzz of the whole API from its own OpenAPI document (schemathesis), against the real
 * stack on free loopback ports: no generated input may get a 5xx or break the process.
 */
const SCHEMATHESIS = path.resolve(__dirname, '..', '.tools', 'venv', 'bin', 'schemathesis');
const MAX_EXAMPLES = process.env.FUZZ_MAX_EXAMPLES ?? '25';
/** Checks that hold for this API: no server errors, documented codes and content types, bodies matching their schemas. */
// One worker: schemathesis' generators are not thread-safe on this Python (an ast.parse recursion error under --workers 2).
const CHECKS = 'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance';
const RUN_TIMEOUT_MS = 20 * 60_000;
const say = (line: string) => console.log(`[fuzz] ${line}`);
/** One token that may call every route: each operation is fuzzed past its auth check, not stopped at a 403. */
const FUZZ_TOKEN = 'fuzz-every-scope';

function schemathesisBinary(): string {
  try {
    accessSync(SCHEMATHESIS, constants.X_OK);
    return SCHEMATHESIS;
  } catch {
    throw new Error(
      `schemathesis is not installed at ${SCHEMATHESIS}: run \`npm run fuzz:setup\` (a Python venv under .tools/)`,
    );
  }
}

/** Runs a child while this process keeps serving the API it fuzzes (so never spawnSync); bounded in time. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = tracked(
      spawn(command, args, { stdio: 'inherit', timeout: RUN_TIMEOUT_MS, env: { ...process.env, ...env } }),
    );
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const binary = schemathesisBinary();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-fuzz-'));
  const config = await throwawayLocalStackConfig(dataDir, {
    PAYMENT_WINDOW_MS: '5000',
    ORDER_ACCEPT_TIMEOUT_MS: '3000',
    COMPENSATION_GIVE_UP_MS: '3000',
    API_KEYS: JSON.stringify({ [FUZZ_TOKEN]: { name: 'fuzz', scopes: Scope.options } }),
  });
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const stack = await startLocalStack(config, say);
  let failed = 0;
  try {
    say(`schemathesis with a token of every scope, ${MAX_EXAMPLES} examples per operation`);
    const status = await run(
      binary,
      [
        '--config-file',
        path.join(__dirname, 'schemathesis.toml'),
        'run',
        `${stack.apiUrl}/openapi.json`,
        '--checks',
        CHECKS,
        '--header',
        `Authorization: Bearer ${FUZZ_TOKEN}`,
        '--max-examples',
        MAX_EXAMPLES,
        '--request-timeout',
        '20',
        '--workers',
        '1',
        '--no-color',
      ],
      {
        // The hooks sign each payment webhook and price each order from the catalog (scripts/fuzz-hooks.py).
        SCHEMATHESIS_HOOKS: 'fuzz-hooks',
        FUZZ_CATALOG: JSON.stringify(SANDBOX_CATALOG),
        PYTHONPATH: __dirname,
        FUZZ_PROVIDER_SECRETS: JSON.stringify(
          Object.fromEntries(config.paymentProviders.map((p) => [p.name, p.webhookSecret])),
        ),
      },
    );
    if (status !== 0) failed++;
    const health = await fetch(`${stack.apiUrl}/healthz`).then(
      (r) => r.status,
      () => 0,
    );
    say(`the API answers /healthz with ${health} after the fuzz`);
    if (health !== 200) failed++;
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  say(failed ? `${failed} fuzz run(s) failed` : 'no input broke the API');
  return failed ? 1 : 0;
}

// runScript stops the dev server (in a process group of its own) and schemathesis however the run ends.
runScript(main, { name: 'fuzz' });
