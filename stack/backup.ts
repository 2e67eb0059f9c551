import { createHash } from 'node:crypto';
import {
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { backup, DatabaseSync } from 'node:sqlite';
import { z } from 'zod';
import { DEV_KEYS_FILE } from '../codec/keys';
import { ORDER_STORE_FILE } from '../config';
import { errorMessage } from '../domain/errors';

/**
 * Backups of the embedded stack (`npm start`): the dev server's SQLite database and the store of record's
 * (`orders.db`, when the store is the embedded default), each copied online through SQLite's backup API
 * while the stack writes, and the dev payload keys beside them. A backup is a folder
 * with a manifest that names each file with its size and digest; a restore refuses a folder whose files
 * do not match it (docs/OPERATIONS.md).
 */

/** The dev server's database in DATA_DIR (and its write-ahead log and shared memory beside it). */
export const DATABASE_FILE = 'temporal.db';
/** A SQLite database's write-ahead log and shared memory: stale ones beside a restored file would corrupt it. */
const sideFiles = (database: string) => ['-wal', '-shm'].map((suffix) => `${database}${suffix}`);
const MANIFEST_FILE = 'backup.json';
const MANIFEST_FORMAT = 'order-saga-backup/1';
/** A backup step's page count that covers any database (Node wants a positive 32-bit integer). */
const ALL_PAGES = 2 ** 31 - 1;
/** Where backups go by default, under DATA_DIR. */
export const BACKUPS_FOLDER = 'backups';
/** Where `npm start`'s scheduled backups go, under DATA_DIR: pruned apart from those taken by hand. */
export const SCHEDULED_BACKUPS_FOLDER = path.join(BACKUPS_FOLDER, 'scheduled');

const Manifest = z.object({
  format: z.literal(MANIFEST_FORMAT),
  createdAt: z.iso.datetime(),
  /** Whether the payload keys are in the backup, or live in ENCRYPTION_KEYS where the stack ran. */
  keys: z.enum(['included', 'ENCRYPTION_KEYS']),
  files: z.array(z.object({ name: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string() })).min(1),
});
export type Manifest = z.infer<typeof Manifest>;

/** A backup or restore that cannot go ahead; its message says why and what to do. Nothing was changed. */
export class BackupRefused extends Error {}

export interface BackupResult {
  dir: string;
  manifest: Manifest;
  totalBytes: number;
}

/**
 * Copies the dev server's database under `dataDir` into `to` (a new folder), consistently while the server
 * writes, with the dev keys if the stack made them; writes the manifest last, so a folder without one is
 * not a backup.
 */
export async function takeBackup(dataDir: string, to: string): Promise<BackupResult> {
  const database = path.resolve(dataDir, DATABASE_FILE);
  if (!existsSync(database)) {
    throw new BackupRefused(
      `nothing to back up: no database at ${database} (has npm start ever run with DATA_DIR=${dataDir}?)`,
    );
  }
  if (existsSync(to)) throw new BackupRefused(`${to} exists already: a backup goes into a new folder`);
  mkdirSync(to, { recursive: true });
  // Its time is when the copy began, not when it ended: reconcile settles the payments opened since then,
  // and the copy holds no order that began after its start.
  const startedAt = new Date();
  try {
    await copyDatabase(database, path.join(to, DATABASE_FILE));
    // After Temporal's: a workflow completes only once the store holds its end, so the store's copy holds
    // every order that Temporal's copy holds ended, and more.
    const store = path.resolve(dataDir, ORDER_STORE_FILE);
    const storeIncluded = existsSync(store);
    if (storeIncluded) await copyDatabase(store, path.join(to, ORDER_STORE_FILE));
    const keysFile = path.resolve(dataDir, DEV_KEYS_FILE);
    const keysIncluded = existsSync(keysFile);
    if (keysIncluded) copyFileSync(keysFile, path.join(to, DEV_KEYS_FILE));
    const names = [
      DATABASE_FILE,
      ...(storeIncluded ? [ORDER_STORE_FILE] : []),
      ...(keysIncluded ? [DEV_KEYS_FILE] : []),
    ];
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      createdAt: startedAt.toISOString(),
      keys: keysIncluded ? 'included' : 'ENCRYPTION_KEYS',
      files: await Promise.all(names.map((name) => describeFile(path.join(to, name)))),
    };
    writeFileSync(path.join(to, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    return { dir: to, manifest, totalBytes: manifest.files.reduce((sum, file) => sum + file.bytes, 0) };
  } catch (err) {
    rmSync(to, { recursive: true, force: true });
    throw err;
  }
}

/** Copies a SQLite database that another process may be writing, as it is at one instant. */
async function copyDatabase(file: string, to: string): Promise<void> {
  // Not read-only: a read-only connection cannot open a database in WAL mode whose writer has stopped (it
  // would have to create the shared-memory file). Nothing is written through it.
  const source = new DatabaseSync(file, { timeout: 10_000 });
  try {
    // All pages in one step: a step holds one read transaction, so the copy is the database at one instant,
    // however much is written meanwhile (a copy in several steps restarts whenever another process writes
    // between them).
    await backup(source, to, { rate: ALL_PAGES });
  } finally {
    source.close();
  }
}

/** The backup in `dir`, if it is a complete one: every file its manifest names, with that size and digest. */
export async function checkBackup(dir: string): Promise<Manifest> {
  const manifestFile = path.join(dir, MANIFEST_FILE);
  if (!existsSync(manifestFile)) throw new BackupRefused(`${dir} is not a backup: it has no ${MANIFEST_FILE}`);
  let parsed;
  try {
    parsed = Manifest.safeParse(JSON.parse(readFileSync(manifestFile, 'utf8')));
  } catch {
    throw new BackupRefused(`${dir} is not a complete backup: its ${MANIFEST_FILE} is not JSON`);
  }
  if (!parsed.success)
    throw new BackupRefused(`${dir} is not a complete backup: its ${MANIFEST_FILE} is not one this version writes`);
  const manifest = parsed.data;
  if (!manifest.files.some((file) => file.name === DATABASE_FILE)) {
    throw new BackupRefused(`${dir} is not a complete backup: its manifest names no ${DATABASE_FILE}`);
  }
  for (const expected of manifest.files) {
    if (path.basename(expected.name) !== expected.name)
      throw new BackupRefused(`${dir} is not a complete backup: its manifest names a file outside it`);
    const file = path.join(dir, expected.name);
    if (!existsSync(file)) throw new BackupRefused(`${dir} is not a complete backup: ${expected.name} is missing`);
    const actual = await describeFile(file);
    if (actual.bytes !== expected.bytes || actual.sha256 !== expected.sha256) {
      throw new BackupRefused(`${dir} is not a complete backup: ${expected.name} is not the file it backed up`);
    }
  }
  return manifest;
}

/**
 * Puts the backup in `from` in place under `dataDir` (the stack must be stopped: the caller checks). Its
 * files are copied beside the current ones under temporary names and checked against the manifest first;
 * only then does what they replace move to `dataDir/replaced-<time>/` (so a restore of the wrong backup
 * can be undone) and the copies take their names. A failure before that leaves `dataDir` as it was.
 */
export async function restoreBackup(
  from: string,
  dataDir: string,
): Promise<{ manifest: Manifest; replacedDir: string | null }> {
  const manifest = await checkBackup(from);
  mkdirSync(dataDir, { recursive: true });
  const incoming = manifest.files.map((file) => ({
    ...file,
    temporary: path.join(dataDir, `.restoring-${file.name}`),
  }));
  try {
    for (const file of incoming) {
      copyFileSync(path.join(from, file.name), file.temporary);
      const copied = await describeFile(file.temporary);
      if (copied.bytes !== file.bytes || copied.sha256 !== file.sha256)
        throw new BackupRefused(
          `the copy of ${file.name} into ${dataDir} is not the file backed up (is the disk full?)`,
        );
    }
  } catch (err) {
    for (const file of incoming) rmSync(file.temporary, { force: true });
    throw err;
  }
  const replacing = [
    DATABASE_FILE,
    ...sideFiles(DATABASE_FILE),
    ...sideFiles(ORDER_STORE_FILE),
    ...manifest.files.map((file) => file.name),
  ].filter((name, i, all) => all.indexOf(name) === i && existsSync(path.join(dataDir, name)));
  let replacedDir: string | null = null;
  if (replacing.length > 0) {
    replacedDir = path.join(dataDir, `replaced-${timestamp(new Date())}`);
    mkdirSync(replacedDir);
    for (const name of replacing) renameSync(path.join(dataDir, name), path.join(replacedDir, name));
  }
  for (const file of incoming) renameSync(file.temporary, path.join(dataDir, file.name));
  return { manifest, replacedDir };
}

/** What a backup wrote, one line per file and one for the whole, sizes in kB or MB. */
export function describeBackup({ dir, manifest, totalBytes }: BackupResult): string[] {
  const lines = [`backup written to ${dir}`];
  for (const file of manifest.files) lines.push(`  ${file.name}: ${formatBytes(file.bytes)}`);
  lines.push(`${formatBytes(totalBytes)} in ${manifest.files.length} file(s), taken at ${manifest.createdAt}`);
  if (manifest.keys === 'ENCRYPTION_KEYS') {
    lines.push('the payload keys come from ENCRYPTION_KEYS and are not in it: the backup is unreadable without them');
  }
  return lines;
}

function formatBytes(bytes: number): string {
  return bytes >= 1_000_000 ? `${(bytes / 1_000_000).toFixed(1)} MB` : `${(bytes / 1000).toFixed(1)} kB`;
}

/**
 * The first of `ports` on loopback that accepts a connection, or null: a restore under a running stack
 * would be overwritten by, or corrupt, the server that holds the database open.
 */
export async function portInUse(ports: readonly number[]): Promise<number | null> {
  for (const port of ports) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.setTimeout(1_000);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return port;
  }
  return null;
}

/**
 * `npm start`'s scheduled backups: one every `intervalMs` into DATA_DIR/backups/scheduled, keeping the newest
 * `keep`, a line each. A backup that fails is said and tried again at the next tick; it never stops the
 * stack. Returns the stop, which waits for a backup under way.
 */
export function scheduleBackups(
  dataDir: string,
  { intervalMs, keep }: { intervalMs: number; keep: number },
  say: (line: string) => void,
): () => Promise<void> {
  const backupsDir = path.join(dataDir, SCHEDULED_BACKUPS_FOLDER);
  let running: Promise<void> | null = null;
  const tick = () => {
    // One at a time: a backup slower than the interval skips the ticks it overlaps.
    if (running) return;
    running = (async () => {
      try {
        const result = await takeBackup(dataDir, newBackupDir(backupsDir));
        const pruned = pruneBackups(backupsDir, keep);
        say(
          `backup ${path.basename(result.dir)}: ${formatBytes(result.totalBytes)} in ${result.dir}` +
            (pruned.length ? `; removed ${pruned.length} older (keeping ${keep})` : ''),
        );
      } catch (err) {
        say(`backup failed, next in ${intervalMs} ms: ${errorMessage(err)}`);
      } finally {
        running = null;
      }
    })();
  };
  const timer = setInterval(tick, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/** The backups in `dir` (folders with a manifest), oldest first by name. */
export function listBackups(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => existsSync(path.join(dir, name, MANIFEST_FILE)))
    .sort()
    .map((name) => path.join(dir, name));
}

/** Removes all but the newest `keep` backups in `dir`; returns the ones removed. */
export function pruneBackups(dir: string, keep: number): string[] {
  const all = listBackups(dir);
  const removed = all.slice(0, Math.max(0, all.length - keep));
  for (const backupDir of removed) rmSync(backupDir, { recursive: true, force: true });
  return removed;
}

/** A new backup's folder under `backupsDir`, named by its time so that names sort as times do. */
export function newBackupDir(backupsDir: string, at = new Date()): string {
  return path.join(backupsDir, timestamp(at));
}

function timestamp(at: Date): string {
  return at.toISOString().replace(/[:.]/g, '-');
}

/** A file's name, size and SHA-256, read as a stream: a database may be larger than a buffer can hold. */
async function describeFile(file: string): Promise<Manifest['files'][number]> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return { name: path.basename(file), bytes: statSync(file).size, sha256: hash.digest('hex') };
}
