import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Client, Connection } from '@temporalio/client';
import { DEV_KEYS_FILE } from '../codec/keys';
import { ORDER_STORE_FILE } from '../config';
import { OrderStore } from '../store/order-store';
import { placedOrder } from './helpers/stored-orders';
import {
  BACKUPS_FOLDER,
  DATABASE_FILE,
  listBackups,
  newBackupDir,
  SCHEDULED_BACKUPS_FOLDER,
  scheduleBackups,
  takeBackup,
} from '../stack/backup';
import { DevServerProcess } from '../stack/dev-server-process';
import { freePort } from '../stack/parts';
import { ensureTemporalCli } from '../stack/temporal-cli';

/** The local stack's backups: `npm run backup` under a dev server that writes, `npm run restore`, npm start's schedule. */
const ROOT = path.resolve(__dirname, '..');
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-backup-test-'));
  folders.push(dir);
  return dir;
}

/** Runs one of the scripts as `npm run backup` / `npm run restore` do, with the local stack's DATA_DIR and ports. */
async function npmRun(
  script: 'backup' | 'restore',
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const environment: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete environment.TEMPORAL_ADDRESS;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', `${script}.ts`), ...args], {
    env: environment,
    cwd: ROOT,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

/** A dev server on a SQLite file in `dataDir`, as npm start runs it, with a client. */
async function devServerOn(dataDir: string) {
  const cli = await ensureTemporalCli(() => {});
  if (!cli) throw new Error('no Temporal CLI');
  const server = new DevServerProcess(cli, { port: await freePort(), dbFile: path.join(dataDir, DATABASE_FILE) });
  await server.start();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  return {
    server,
    client,
    async stop() {
      await connection.close();
      await server.stop();
    },
  };
}

/** A small SQLite database where the dev server keeps its own, for the tests that need no server: one table, empty. */
function databaseIn(dataDir: string): void {
  const database = new DatabaseSync(path.join(dataDir, DATABASE_FILE));
  database.exec('CREATE TABLE t (x);');
  database.close();
}

/** A backup taken by `npm run backup --to`, and a DATA_DIR whose database reads 'the current database'. */
async function aBackupAndAStackToRestoreInto(): Promise<{ backupDir: string; target: string }> {
  const dataDir = tempDir();
  databaseIn(dataDir);
  const backupDir = path.join(tempDir(), 'b');
  expect((await npmRun('backup', ['--to', backupDir], { DATA_DIR: dataDir })).code).toBe(0);
  const target = tempDir();
  writeFileSync(path.join(target, DATABASE_FILE), 'the current database');
  return { backupDir, target };
}

/** Starts a workflow no worker runs: it stays open in the server's database, which is all this test needs. */
const startProbe = (client: Client, id: string) =>
  client.workflow.start('backupProbe', { taskQueue: 'no-worker', workflowId: id });

test('npm run backup with nothing to back up says so, exits 1 and writes nothing', async () => {
  const dataDir = tempDir();
  const result = await npmRun('backup', [], { DATA_DIR: dataDir });
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('nothing to back up: no database at');
  expect(existsSync(path.join(dataDir, BACKUPS_FOLDER))).toBe(false);
});

test('a backup taken while the server writes restores to a server that knows every order written before it', async () => {
  const dataDir = tempDir();
  writeFileSync(path.join(dataDir, DEV_KEYS_FILE), '[{"id":"dev-test","key":"AAAA"}]\n');
  const first = await devServerOn(dataDir);
  const before: string[] = [];
  let writing = true;
  let during = 0;
  let backup: Awaited<ReturnType<typeof npmRun>>;
  try {
    for (let i = 0; i < 20; i++) {
      await startProbe(first.client, `before-${i}`);
      before.push(`before-${i}`);
    }
    // The server keeps writing while the backup runs.
    const writer = (async () => {
      while (writing) await startProbe(first.client, `during-${during++}`);
    })();
    backup = await npmRun('backup', [], { DATA_DIR: dataDir });
    writing = false;
    await writer;
  } finally {
    await first.stop();
  }
  expect(backup.code).toBe(0);
  expect(during).toBeGreaterThan(0);
  expect(backup.stdout).toMatch(/backup written to .*backups/);
  expect(backup.stdout).toContain(`${DATABASE_FILE}: `);
  const [backupDir] = listBackups(path.join(dataDir, BACKUPS_FOLDER));
  expect(readFileSync(path.join(backupDir!, DEV_KEYS_FILE), 'utf8')).toContain('dev-test');

  const restoredDir = tempDir();
  const restore = await npmRun('restore', [backupDir!], { DATA_DIR: restoredDir });
  expect(restore.code).toBe(0);
  expect(readFileSync(path.join(restoredDir, DEV_KEYS_FILE), 'utf8')).toContain('dev-test');
  const restored = await devServerOn(restoredDir);
  try {
    for (const id of before) {
      expect((await restored.client.workflow.getHandle(id).describe()).status.name).toBe('RUNNING');
    }
    const { count } = await restored.client.workflow.count(`WorkflowType = 'backupProbe'`);
    expect(count).toBeGreaterThanOrEqual(before.length);
    expect(count).toBeLessThanOrEqual(before.length + during);
  } finally {
    await restored.stop();
  }
});

test('npm run restore refuses a running stack, a folder that is not a backup, and a backup with a damaged file, changing nothing', async () => {
  const { backupDir, target } = await aBackupAndAStackToRestoreInto();
  const unchanged = () => {
    expect(readdirSync(target)).toEqual([DATABASE_FILE]);
    expect(readFileSync(path.join(target, DATABASE_FILE), 'utf8')).toBe('the current database');
  };

  const running = await devServerOn(tempDir());
  try {
    const port = running.server.port;
    const refused = await npmRun('restore', [backupDir], { DATA_DIR: target, TEMPORAL_PORT: String(port) });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`the local stack is running (port ${port} answers)`);
    unchanged();
  } finally {
    await running.stop();
  }

  const notABackup = await npmRun('restore', [tempDir()], { DATA_DIR: target });
  expect(notABackup.code).toBe(1);
  expect(notABackup.stderr).toContain('is not a backup: it has no backup.json');
  unchanged();

  writeFileSync(path.join(backupDir, DATABASE_FILE), 'damaged');
  const damaged = await npmRun('restore', [backupDir], { DATA_DIR: target });
  expect(damaged.code).toBe(1);
  expect(damaged.stderr).toContain(`is not a complete backup: ${DATABASE_FILE} is not the file it backed up`);
  unchanged();

  rmSync(path.join(backupDir, DATABASE_FILE));
  const missing = await npmRun('restore', [backupDir], { DATA_DIR: target });
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain(`is not a complete backup: ${DATABASE_FILE} is missing`);
  unchanged();
});

test('a backup carries the store of record, copied at one instant while orders are written to it', async () => {
  const dataDir = tempDir();
  databaseIn(dataDir);
  const store = await OrderStore.open(`sqlite:${path.join(dataDir, ORDER_STORE_FILE)}`);
  const place = (orderId: string) => {
    const { view, event } = placedOrder({ orderId, customer: { id: 'c-backup', email: 'ada@example.com' } });
    return store.record({ orderId, requestHash: 'h', events: [event(1)], view, lastSeq: 1, closed: false });
  };
  const before = Array.from({ length: 50 }, (_, i) => `before-${i}`);
  for (const orderId of before) await place(orderId);
  let writing = true;
  let during = 0;
  const writer = (async () => {
    while (writing) {
      await place(`during-${during++}`);
      // SQLite answers this process at once: without a turn of the event loop the backup's exit is never heard.
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const backup = await npmRun('backup', [], { DATA_DIR: dataDir });
  writing = false;
  await writer;
  await store.close();
  expect(backup.code).toBe(0);
  expect(backup.stdout).toContain(`${ORDER_STORE_FILE}: `);

  const restoredDir = tempDir();
  const [backupDir] = listBackups(path.join(dataDir, BACKUPS_FOLDER));
  expect((await npmRun('restore', [backupDir!], { DATA_DIR: restoredDir })).code).toBe(0);
  const restored = await OrderStore.open(`sqlite:${path.join(restoredDir, ORDER_STORE_FILE)}`);
  try {
    for (const orderId of before) expect(await restored.find(orderId)).not.toBeNull();
    const { views } = await restored.list({ customerId: 'c-backup' }, 100, null);
    expect(views.length).toBeGreaterThanOrEqual(before.length);
    expect(views.length).toBeLessThanOrEqual(before.length + during);
  } finally {
    await restored.close();
  }
});

test('a restore moves what it replaces aside instead of deleting it', async () => {
  const { backupDir, target } = await aBackupAndAStackToRestoreInto();
  writeFileSync(path.join(target, `${DATABASE_FILE}-wal`), 'its log');

  const result = await npmRun('restore', [backupDir], { DATA_DIR: target });
  expect(result.code).toBe(0);
  const [replaced] = readdirSync(target).filter((name) => name.startsWith('replaced-'));
  expect(readFileSync(path.join(target, replaced!, DATABASE_FILE), 'utf8')).toBe('the current database');
  expect(readFileSync(path.join(target, replaced!, `${DATABASE_FILE}-wal`), 'utf8')).toBe('its log');
  expect(existsSync(path.join(target, `${DATABASE_FILE}-wal`))).toBe(false);
  const restored = new DatabaseSync(path.join(target, DATABASE_FILE), { readOnly: true });
  expect(restored.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
  restored.close();
});

test("npm start's schedule takes a backup each interval, keeps the newest ones and says so", async () => {
  const dataDir = tempDir();
  databaseIn(dataDir);
  // One taken by hand first: the schedule prunes its own backups only.
  const byHand = await takeBackup(dataDir, newBackupDir(path.join(dataDir, BACKUPS_FOLDER)));
  const lines: string[] = [];
  const stop = scheduleBackups(dataDir, { intervalMs: 150, keep: 2 }, (line) => lines.push(line));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await stop();
  expect(listBackups(path.join(dataDir, SCHEDULED_BACKUPS_FOLDER))).toHaveLength(2);
  expect(existsSync(byHand.dir)).toBe(true);
  expect(lines.length).toBeGreaterThanOrEqual(3);
  expect(lines.every((line) => /^backup \S+: [\d.]+ kB in /.test(line))).toBe(true);
  expect(lines.some((line) => line.includes('removed 1 older (keeping 2)'))).toBe(true);
});
