import { Migrator, type Kysely, type Migration } from 'kysely';

/**
 * The store's schema, one migration per version, applied in name order by Kysely's migrator, which records
 * what it applied in `kysely_migration` and holds a lock while it migrates (an advisory lock on
 * PostgreSQL). A migration, once released, is never edited: a change is a new one.
 */
const MIGRATIONS: Record<string, Migration> = {
  '0001-orders-and-their-events': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('orders')
        .addColumn('order_id', 'text', (column) => column.primaryKey())
        .addColumn('customer_id', 'text', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('needs_attention', 'integer', (column) => column.notNull())
        .addColumn('request_hash', 'text')
        .addColumn('created_at', 'text', (column) => column.notNull())
        .addColumn('updated_at', 'text', (column) => column.notNull())
        .addColumn('last_seq', 'integer', (column) => column.notNull())
        .addColumn('closed', 'integer', (column) => column.notNull())
        .addColumn('view', 'text', (column) => column.notNull())
        .execute();
      // The lists: newest first, by customer, by status, needing attention.
      await db.schema.createIndex('orders_newest').on('orders').columns(['created_at', 'order_id']).execute();
      for (const column of ['customer_id', 'status', 'needs_attention'])
        await db.schema
          .createIndex(`orders_by_${column}`)
          .on('orders')
          .columns([column, 'created_at', 'order_id'])
          .execute();
      await db.schema
        .createTable('order_events')
        .addColumn('order_id', 'text', (column) => column.notNull())
        .addColumn('seq', 'integer', (column) => column.notNull())
        .addColumn('type', 'text', (column) => column.notNull())
        .addColumn('at', 'text', (column) => column.notNull())
        .addColumn('data', 'text', (column) => column.notNull())
        .addPrimaryKeyConstraint('order_events_key', ['order_id', 'seq'])
        .execute();
    },
  },
  '0002-orders-placed': {
    async up(db: Kysely<unknown>) {
      // The orders already kept were all written by their workflows or their answers: placed.
      await db.schema
        .alterTable('orders')
        .addColumn('placed', 'integer', (column) => column.notNull().defaultTo(1))
        .execute();
    },
  },
};

/** Brings the schema to the latest version; throws with the migration that failed. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName;
    throw new Error(`the order store's migration ${failed ?? ''} failed: ${(error as Error).message ?? error}`, {
      cause: error,
    });
  }
}
