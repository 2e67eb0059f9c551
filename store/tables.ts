/**
 * The store's tables as the code reads them. JSON is kept as text and times as ISO 8601 UTC text, so one
 * schema serves SQLite and PostgreSQL and times sort as strings.
 */
export interface StoreTables {
  /** One row per order: its latest view, and what the API needs to find and page it without decoding it. */
  orders: {
    order_id: string;
    customer_id: string;
    status: string;
    /** 0 or 1 (SQLite has no boolean). */
    needs_attention: number;
    /** The digest of the body that placed it: a second POST with another body is a conflict. */
    request_hash: string | null;
    created_at: string;
    updated_at: string;
    /** The seq of the newest event folded into `view`: a write never replaces a newer view. */
    last_seq: number;
    /** 1 once the workflow recorded its last view, just before it completed. */
    closed: number;
    /**
     * 0 while the row is only the API's claim of the id, 1 once Temporal holds the order (its answer, or
     * its workflow, wrote it): a claim whose start failed is no order, and lists leave it out.
     */
    placed: number;
    view: string;
  };
  /** The order's event log, as `GET /orders/{id}/events` answers it. */
  order_events: {
    order_id: string;
    seq: number;
    type: string;
    at: string;
    data: string;
  };
}
