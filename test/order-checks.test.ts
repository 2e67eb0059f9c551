import { judgeStatusEvents } from '../scripts/order-checks';
import type { StatusEvent } from '../domain/status-events';
import type { ReceivedStatusEvent } from '../sandbox/status-event-receiver';

/** What an order told, by event number and type (the rest of an event does not matter to the check). */
const told = (orderId: string, ...changes: [number, string][]) =>
  changes.map(([seq, type]) => ({ id: `evt_${orderId}_${seq}`, type }) as StatusEvent);
const taken = (orderId: string, seq: number, copies = 1) =>
  ({ id: `evt_${orderId}_${seq}`, orderId, seq, copies }) as ReceivedStatusEvent;

const expected = new Map([
  ['A', told('A', [4, 'order.awaiting_payment'], [6, 'order.paid'], [7, 'order.confirmed'])],
  ['B', told('B', [2, 'order.rejected'])],
]);

test('every change taken once, in order, is no problem; repeats are counted, not held against it', () => {
  const verdict = judgeStatusEvents(expected, [taken('A', 4), taken('B', 2), taken('A', 6, 3), taken('A', 7)]);
  expect(verdict).toMatchObject({ told: 4, taken: 4, repeats: 2, missing: 0, outOfOrder: 0, problems: [] });
});

test('a change never taken is missing', () => {
  const verdict = judgeStatusEvents(expected, [taken('A', 4), taken('A', 7)]);
  expect(verdict).toMatchObject({ missing: 2, outOfOrder: 0 });
  expect(verdict.problems).toEqual([
    'order webhook missing: evt_A_6 (order.paid)',
    'order webhook missing: evt_B_2 (order.rejected)',
  ]);
});

test('a change taken after a later one of the same order is out of order; other orders do not count', () => {
  const verdict = judgeStatusEvents(expected, [taken('A', 6), taken('B', 2), taken('A', 4), taken('A', 7)]);
  expect(verdict).toMatchObject({ missing: 0, outOfOrder: 1 });
});
