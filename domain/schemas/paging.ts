import { z } from 'zod';

/**
 * The query of a system's list of what it made since a time (`?createdFrom=&cursor=&limit=`): oldest first,
 * by pages, `cursor` being the answer's `nextCursor`. Payment providers list payments this way, inventory
 * lists reservations; what reconcile reads after a restore (docs/OPERATIONS.md).
 */
export const CreatedSinceQuery = z.object({
  createdFrom: z.iso.datetime({ offset: true }),
  cursor: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** The query string asking for the page after `cursor` (null: the first) of what was made since `from`. */
export function createdSinceQuery(from: Date, cursor: string | null): string {
  const query = new URLSearchParams({ createdFrom: from.toISOString() });
  if (cursor !== null) query.set('cursor', cursor);
  return query.toString();
}
