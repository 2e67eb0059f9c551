import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ORDER_WORKFLOW_TYPE } from '../domain/contract';
import { HISTORIES_DIR, loadHistories, workflowTypeOf } from '../scripts/histories';

const ROOT = path.resolve(__dirname, '..');
const replay = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'scripts/replay.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });

test('npm run replay -- --dir passes on the current code: a line per history and the closing count', () => {
  const run = replay('--dir', 'test/histories');
  expect(run.status).toBe(0);
  const lines = run.stdout.trim().split('\n');
  const recorded = loadHistories(HISTORIES_DIR).length;
  expect(lines.filter((line) => line.startsWith('PASS '))).toHaveLength(recorded);
  expect(lines.at(-1)).toBe(`${recorded} passed, 0 failed`);
});

test('it exits non-zero and names each failing history when the code is incompatible', () => {
  const run = replay('--dir', 'test/histories', '--workflows', 'test/fixtures/workflows-incompatible/index.ts');
  expect(run.status).toBe(1);
  expect(run.stdout).toMatch(/^FAIL happy: DeterminismViolationError/m);
  // Order histories fail; the refund workflow's (one per era of the code), which the variant leaves alone, pass.
  const histories = loadHistories(HISTORIES_DIR);
  const orders = histories.filter((history) => workflowTypeOf(history) === ORDER_WORKFLOW_TYPE).length;
  expect(run.stdout.trim().split('\n').at(-1)).toBe(`${histories.length - orders} passed, ${orders} failed`);
});

test('it refuses to run without exactly one of --dir and --query', () => {
  expect(replay().status).toBe(2);
  expect(replay('--dir', 'a', '--query', 'b').stderr).toContain('usage: npm run replay');
});
