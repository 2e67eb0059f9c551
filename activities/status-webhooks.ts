import { ApplicationFailure } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import { errorMessage } from '../domain/errors';
import { FailureType } from '../domain/reasons';
import { WebhookHeader, type StatusEvent } from '../domain/status-events';
import type { HttpClient } from './http';

/** A checkout's webhook endpoint as the worker knows it: the id orders name it by, where it is, its secret. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  secret: string;
}

/**
 * Sends an order's status events to its checkout's endpoints, signed the Standard Webhooks way (the
 * `standardwebhooks` package): HMAC-SHA256 over `id.timestamp.body` with the endpoint's secret. Each attempt
 * is signed anew, so a retry hours later carries a fresh timestamp a receiver's replay check accepts; the
 * event id stays, so a receiver that saw it drops the repeat.
 */
export function createStatusWebhookActivities(
  http: HttpClient,
  endpoints: readonly WebhookEndpoint[],
  now: () => Date = () => new Date(),
) {
  const byId = new Map(endpoints.map(({ id, url, secret }) => [id, { url, signer: new Webhook(secret) }]));
  return {
    async deliverStatusEvent({ endpoint, event }: { endpoint: string; event: StatusEvent }): Promise<void> {
      const target = byId.get(endpoint);
      if (!target) {
        // A worker of another configuration (a rollout under way): another worker, or a fix, delivers it.
        throw ApplicationFailure.retryable(
          `webhook endpoint ${endpoint} is not registered on this worker (ORDER_WEBHOOKS)`,
          FailureType.UPSTREAM_UNAVAILABLE,
        );
      }
      const body = JSON.stringify(event);
      const signedAt = now();
      // The URL may carry a token of the checkout's: errors, history and logs name the endpoint by its id.
      const withoutUrl = (message: string) => message.replaceAll(target.url, `webhook endpoint ${endpoint}`);
      let status: number;
      try {
        ({ status } = await http.send({
          method: 'POST',
          url: target.url,
          serializedBody: body,
          headers: {
            [WebhookHeader.id]: event.id,
            [WebhookHeader.timestamp]: String(Math.floor(signedAt.getTime() / 1000)),
            [WebhookHeader.signature]: target.signer.sign(event.id, signedAt, body),
          },
        }));
      } catch (err) {
        throw ApplicationFailure.retryable(withoutUrl(errorMessage(err)), FailureType.UPSTREAM_UNAVAILABLE);
      }
      // Anything but a 2xx is retried: a receiver that refuses (a secret being rotated, a bug) can be fixed.
      if (status < 200 || status >= 300) {
        throw ApplicationFailure.retryable(
          `webhook endpoint ${endpoint} answered ${status}`,
          FailureType.UPSTREAM_UNAVAILABLE,
        );
      }
    },
  };
}
