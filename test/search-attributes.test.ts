import { randomUUID } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { ALL_ORDER_SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { ensureOrderSearchAttributes } from '../stack/search-attributes';
import { eventually } from './helpers/stack';
import { testTemporalAddress } from './helpers/test-env';

let connection: Connection;
beforeAll(async () => {
  connection = await Connection.connect({ address: testTemporalAddress() });
});
afterAll(async () => {
  await connection?.close();
});

test('a namespace that already exists without them gets the order search attributes, once', async () => {
  // The reused-database case: the dev server's --search-attribute flag does not touch an existing namespace.
  const namespace = `sa-${randomUUID().slice(0, 8)}`;
  await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
  await eventually(
    () =>
      connection.workflowService.describeNamespace({ namespace }).then(
        () => true,
        () => false,
      ),
    (found) => found,
  );
  const names = ALL_ORDER_SEARCH_ATTRIBUTES.map((key) => key.name).sort();
  expect((await ensureOrderSearchAttributes(connection, namespace)).sort()).toEqual(names);
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(names));
  expect(await ensureOrderSearchAttributes(connection, namespace)).toEqual([]);
});
