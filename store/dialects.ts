import { DatabaseSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';
import { Pool } from 'pg';
import type { StoreTables } from './tables';

/** Where the store is: a SQLite file (`sqlite:<path>`, the embedded default) or a PostgreSQL URL. */
export type StoreLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

const SQLITE_PREFIX = 'sqlite:';
const POSTGRES_URL = /^postgres(ql)?:\/\//;

export function isStoreUrl(url: string): boolean {
  return POSTGRES_URL.test(url) || (url.startsWith(SQLITE_PREFIX) && url.length > SQLITE_PREFIX.length);
}

/** Reads `ORDER_STORE_URL`: `postgres://…` or `postgresql://…` for PostgreSQL, `sqlite:<path>` for a file. */
export function storeLocation(url: string): StoreLocation {
  if (POSTGRES_URL.test(url)) return { kind: 'postgres', url };
  if (isStoreUrl(url)) return { kind: 'sqlite', file: url.slice(SQLITE_PREFIX.length) };
  throw new Error('the order store must be sqlite:<path> or a postgres:// URL');
}

/** Where the store is, to say to a person: its file, or PostgreSQL's host and database (never the credentials). */
export function describeStore(url: string): string {
  const location = storeLocation(url);
  if (location.kind === 'sqlite') return `SQLite ${path.resolve(location.file)}`;
  const { host, pathname } = new URL(location.url);
  return `PostgreSQL ${host}${pathname}`;
}

/** How long a SQLite writer waits for another process's write (the worker and the API share the file). */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;
/** PostgreSQL connections per process: writes are short, one per workflow task or request. */
const POSTGRES_POOL_SIZE = 10;

export function openDatabase(location: StoreLocation): Kysely<StoreTables> {
  if (location.kind === 'postgres') {
    const pool = new Pool({ connectionString: location.url, max: POSTGRES_POOL_SIZE, allowExitOnIdle: true });
    // A connection the server closed (a restart, a failover) fails the query that holds it, and the pool
    // drops it. Its error events, the pool's for an idle one and the connection's own for one in use, must
    // be heard: unheard, an error event ends the process.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    return new Kysely({
      dialect: new PostgresDialect({ pool }),
    });
  }
  mkdirSync(path.dirname(path.resolve(location.file)), { recursive: true });
  const database = new DatabaseSync(location.file);
  // Write-ahead logging: readers (the API) never wait for the writer (the worker), and neither blocks the
  // other. `synchronous = NORMAL` syncs the log at checkpoints, not at every commit: a write that commits
  // survives the process, and only the machine's own crash may lose the last ones, which the workflow and
  // the API write again (the API places an id before the start; the workflow completes after its last
  // write). A sync per commit would block the process's one thread for each (SQLite is synchronous here).
  database.exec(
    `PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`,
  );
  return new Kysely({ dialect: new SqliteDialect({ database: asKyselySqlite(database) }) });
}

/**
 * Node's own SQLite (`node:sqlite`) as Kysely's SQLite dialect expects a database: Kysely passes the
 * parameters as one array, and asks a statement whether it returns rows.
 */
function asKyselySqlite(database: DatabaseSync): SqliteDatabase {
  return {
    close: () => database.close(),
    prepare(sql: string): SqliteStatement {
      const statement = database.prepare(sql);
      const bind = (parameters: ReadonlyArray<unknown>) => parameters as never[];
      return {
        reader: statement.columns().length > 0,
        all: (parameters) => statement.all(...bind(parameters)),
        run: (parameters) => statement.run(...bind(parameters)),
        iterate: (parameters) => statement.iterate(...bind(parameters)),
      };
    },
  };
}
