import type { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { ALL_ORDER_SEARCH_ATTRIBUTES } from '../domain/search-attributes';

/**
 * Registers the order search attributes a namespace lacks, through the operator API. The dev server's
 * `--search-attribute` flag only applies when it creates the namespace, so a reused database needs this.
 * Returns the names it added.
 */
export async function ensureOrderSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = ALL_ORDER_SEARCH_ATTRIBUTES.filter((key) => !(key.name in (customAttributes ?? {})));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      missing.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!]),
    ),
  });
  return missing.map((key) => key.name);
}
