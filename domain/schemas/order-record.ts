import { MemoKey } from '../order-record';
import { OrderView } from './order-state';

/** A view as a memo holds it (decoded), or null when it is not one this code can read. */
export function readView(decoded: unknown): OrderView | null {
  const view = OrderView.safeParse(decoded);
  return view.success ? view.data : null;
}

/** The view in a described workflow's memo. */
export function viewInMemo(memo: Record<string, unknown> | undefined): OrderView | null {
  return readView(memo?.[MemoKey.order]);
}
