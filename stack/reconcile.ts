import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { SettleOutcome } from '../activities/payments';
import type { PaymentRecord } from '../payment-provider/protocol';
import { orderWorkflowId } from '../domain/contract';
import { errorMessage } from '../domain/errors';
import { formatAmount } from '../domain/money';

/**
 * After a restore, the providers may hold money for orders the restored server never heard of: accepted
 * after the backup, lost with what came after it. This finds every payment each provider opened since a
 * time, leaves alone those whose order the server knows (the order's saga settles its own payment, by
 * reconciliation if it must), and settles the rest through the same idempotent settle the saga uses:
 * refund what was captured, void what is pending. Run it again at will: a settled payment settles to
 * nothing.
 */
export interface ReconcileParts {
  providers: readonly string[];
  /** A provider's payments opened since `from`, a page at a time. */
  page(
    provider: string,
    from: Date,
    cursor: string | null,
  ): Promise<{ payments: PaymentRecord[]; nextCursor: string | null }>;
  /** The saga's settle (activities/payments.ts): refund or void, idempotent. */
  settle(input: { provider: string; orderId: string; paymentId: string }): Promise<SettleOutcome>;
  client: Client;
  say(line: string): void;
  /** Tries per call before a provider or the server counts as down; waits double from `retryDelayMs`. */
  attempts?: number;
  retryDelayMs?: number;
}

export interface ReconcileReport {
  /** Payments the providers opened since the time. */
  listed: number;
  /** Of those, payments whose order the server does not know. */
  unknown: number;
  settled: { refunded: number; voided: number; nothing: number };
  /** What could not be done (a provider or the server down past its retries): run again. */
  failures: string[];
}

export async function reconcilePayments(since: Date, parts: ReconcileParts): Promise<ReconcileReport> {
  const { providers, say } = parts;
  const report: ReconcileReport = {
    listed: 0,
    unknown: 0,
    settled: { refunded: 0, voided: 0, nothing: 0 },
    failures: [],
  };
  const retried = <T>(what: string, call: () => Promise<T>) =>
    withRetries(what, call, parts.attempts ?? 5, parts.retryDelayMs ?? 500, say);

  for (const provider of providers) {
    let cursor: string | null = null;
    do {
      let page;
      try {
        page = await retried(`listing ${provider}'s payments`, () => parts.page(provider, since, cursor));
      } catch (err) {
        report.failures.push(`${provider}: could not list its payments (${errorMessage(err)})`);
        say(`${provider}: could not list its payments (${errorMessage(err)}): the rest of it is left for the next run`);
        break;
      }
      for (const payment of page.payments) {
        report.listed++;
        const what = `${payment.paymentId} at ${provider} (order ${payment.orderId}, ${formatAmount(payment.amount, payment.currency)})`;
        let known: boolean;
        try {
          known = await retried(`asking the server about order ${payment.orderId}`, () =>
            orderKnown(parts.client, payment.orderId),
          );
        } catch (err) {
          // Never settle on a guess: an order the server may know settles its own payment.
          report.failures.push(`${what}: the server did not say whether it knows the order (${errorMessage(err)})`);
          say(`${what}: left alone, the server did not say whether it knows the order (${errorMessage(err)})`);
          continue;
        }
        if (known) {
          say(`${what}: left alone, the server knows the order and its saga settles it`);
          continue;
        }
        report.unknown++;
        try {
          const outcome = await retried(`settling ${payment.paymentId}`, () =>
            parts.settle({ provider, orderId: payment.orderId, paymentId: payment.paymentId }),
          );
          if (outcome.outcome === 'refunded') report.settled.refunded++;
          else if (outcome.outcome === 'voided') report.settled.voided++;
          else report.settled.nothing++;
          say(`${what}: unknown to the server, ${describeOutcome(outcome, payment.currency)}`);
        } catch (err) {
          report.failures.push(`${what}: not settled (${errorMessage(err)})`);
          say(`${what}: unknown to the server, not settled (${errorMessage(err)}): run again`);
        }
      }
      cursor = page.nextCursor;
    } while (cursor !== null);
  }
  const { refunded, voided, nothing } = report.settled;
  say(
    `since ${since.toISOString()}: ${report.listed} payments at ${providers.length} providers, ` +
      `${report.unknown} of orders the server does not know: refunded ${refunded}, voided ${voided}, ` +
      `nothing to settle ${nothing}; failures ${report.failures.length}`,
  );
  return report;
}

async function orderKnown(client: Client, orderId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(orderWorkflowId(orderId)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

function describeOutcome(outcome: SettleOutcome, currency: string): string {
  switch (outcome.outcome) {
    case 'refunded':
      return `refunded ${formatAmount(outcome.amount, currency)}`;
    case 'voided':
      return 'voided';
    case 'nothing-to-settle':
      return 'nothing to settle (already refunded, voided or failed)';
    case 'not-found':
      return 'the provider no longer knows it: nothing to settle';
  }
}

/**
 * A call retried while what it calls is unavailable (a retryable failure, a server not answering), with
 * doubling waits; an answer that says no (a non-retryable failure) is not retried.
 */
async function withRetries<T>(
  what: string,
  call: () => Promise<T>,
  attempts: number,
  firstDelayMs: number,
  say: (line: string) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if ((err instanceof ApplicationFailure && err.nonRetryable) || attempt >= attempts) throw err;
      const delayMs = firstDelayMs * 2 ** (attempt - 1);
      say(`${what} failed (${errorMessage(err)}): try ${attempt + 1} of ${attempts} in ${delayMs} ms`);
      await sleep(delayMs);
    }
  }
}
