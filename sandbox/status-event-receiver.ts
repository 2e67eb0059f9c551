import { Webhook } from 'standardwebhooks';
import { StatusEvent } from '../domain/schemas/status-events';
import { statusEventSeq } from '../domain/status-events';

/**
 * The secret the sandbox's endpoint checks signatures with unless told another
 * (docs/API.md, "Order webhooks"): register it with the sandbox's URL in `ORDER_WEBHOOKS` to watch a local
 * stack's events. Dev only.
 */
export const DEV_ORDER_WEBHOOK_SECRET = 'whsec_c2FuZGJveCBvcmRlciB3ZWJob29rcywgZGV2IG9ubHkh';

/** The path of the sandbox's order webhook endpoint. */
export const ORDER_WEBHOOKS_PATH = '/order-webhooks';

/** One status event as the receiver took it: first receipt only, with how often it came. */
export interface ReceivedStatusEvent {
  id: string;
  type: string;
  orderId: string;
  /** The number of the order's domain event that changed its status (the id's last part). */
  seq: number;
  createdAt: string;
  receivedAt: string;
  /** 1, or more when the sender delivered it again (an answer it never got): harmless, and counted. */
  copies: number;
}

/** What the receiver answers: 204, or a refusal with a code a test can read. */
export type Receipt = { status: 204 } | { status: 400 | 401; code: string; message: string };

/**
 * A checkout's order webhook endpoint, as the sandbox plays it: checks each delivery's Standard Webhooks
 * signature with the secret it shares with the worker, keeps the first receipt of each event in the order
 * it came, and counts repeats and refusals, for the tests and the chaos run to compare with what each
 * order did.
 */
export class StatusEventReceiver {
  private readonly verifier: Webhook;
  private readonly byId = new Map<string, ReceivedStatusEvent>();
  /** First receipts, in arrival order. */
  readonly received: ReceivedStatusEvent[] = [];
  /** Deliveries whose signature did not verify (a wrong secret, a forged or replayed request). */
  rejected = 0;

  constructor(secret: string) {
    this.verifier = new Webhook(secret);
  }

  take(rawBody: string, headers: Record<string, string | string[] | undefined>): Receipt {
    const given = Object.fromEntries(
      Object.entries(headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    );
    let payload: unknown;
    try {
      payload = this.verifier.verify(rawBody, given);
    } catch (err) {
      this.rejected++;
      return { status: 401, code: 'BAD_SIGNATURE', message: (err as Error).message };
    }
    const event = StatusEvent.safeParse(payload);
    if (!event.success) return { status: 400, code: 'NOT_A_STATUS_EVENT', message: event.error.message };
    const seen = this.byId.get(event.data.id);
    if (seen) {
      seen.copies++;
      return { status: 204 };
    }
    const received: ReceivedStatusEvent = {
      id: event.data.id,
      type: event.data.type,
      orderId: event.data.data.orderId,
      seq: statusEventSeq(event.data.id),
      createdAt: event.data.createdAt,
      receivedAt: new Date().toISOString(),
      copies: 1,
    };
    this.byId.set(received.id, received);
    this.received.push(received);
    return { status: 204 };
  }

  reset(): void {
    this.byId.clear();
    this.received.length = 0;
    this.rejected = 0;
  }
}
