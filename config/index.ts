import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { EncryptionKeysJson, loadOrCreateDevKeys, toEncryptionKeys } from '../codec/keys';
import type { EncryptionKey } from '../codec/encryption-codec';
import { LOG_LEVELS } from '../observability/logger';
import { DEFAULT_HTTP_TIMEOUT_MS } from '../activities/http';
import { errorMessage } from '../domain/errors';
import { StatusEventType } from '../domain/schemas/status-events';
import type { WebhookSettings } from '../domain/contract';
import { isStoreUrl } from '../store/dialects';
import { reminderSchedule } from '../domain/payment-reminders';
import { PaymentProviderConfig, type HttpProviderConfig } from '../payment-provider/providers';

export type { PaymentProviderConfig };

/** Dev tokens (docs/API.md, "Authentication"), printed by `npm start`. Never valid unless `API_KEYS` is left unset. */
export const DEV_API_KEYS = {
  'dev-checkout': { name: 'checkout', scopes: ['orders:write', 'orders:read'] },
  'dev-support': { name: 'support', scopes: ['orders:read', 'orders:operate'] },
} as const;

/** The sandbox's providers, primary first, with the dev webhook secrets (docs/API.md, "Configuration"). */
export const DEV_PROVIDER_SECRETS = { primary: 'whsec_dev_primary', backup: 'whsec_dev_backup' } as const;

export const Scope = z.enum(['orders:write', 'orders:read', 'orders:operate']);
export type Scope = z.infer<typeof Scope>;
export const ApiKeys = z.record(z.string().min(1), z.object({ name: z.string().min(1), scopes: z.array(Scope) }));
export type ApiKeys = z.infer<typeof ApiKeys>;

/**
 * A checkout's order webhook endpoint (docs/API.md, "Order webhooks"). The secret is a Standard Webhooks
 * one: `whsec_` and the base64 of 24 to 64 random bytes, shared with the receiver.
 */
export const OrderWebhookConfig = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }),
  secret: z.string().refine(isStandardWebhookSecret, {
    error: 'must be whsec_ and the base64 of 24 to 64 random bytes',
  }),
  /** The event types this endpoint hears; all of them when left out. */
  events: z.array(StatusEventType).min(1).optional(),
});
export type OrderWebhookConfig = z.infer<typeof OrderWebhookConfig>;

function isStandardWebhookSecret(secret: string): boolean {
  const base64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return false;
  const bytes = Buffer.from(base64, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

/**
 * An endpoint's id in an order's settings and history: a digest of its URL, so a URL that carries a token
 * never reaches history, and an endpoint keeps its id however the list is reordered.
 */
export function webhookEndpointId(url: string): string {
  return `wh_${createHash('sha256').update(url).digest('hex').slice(0, 16)}`;
}

/** The embedded store of record's file in DATA_DIR (SQLite). */
export const ORDER_STORE_FILE = 'orders.db';

/** Measured on this project's reference machine: the number of starts in flight at its best throughput (docs/PERFORMANCE.md). */
export const DEFAULT_MAX_STARTS_IN_FLIGHT = 32;
/** How long a start waits in line for a slot at most, by default: well inside a checkout's own 30 s timeout. */
export const DEFAULT_START_QUEUE_WAIT_MS = 10_000;

const port = (fallback: number) => z.coerce.number().int().min(1).max(65_535).default(fallback);
const millis = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

/** The application's variables, each with its comment: docs/CONFIGURATION.md is generated from them. */
export const ConfigEnv = z.object({
  /** Port of the orders API. */
  API_PORT: port(3000),
  /** Port of the sandbox (`npm start`, `npm run sandbox`). */
  SANDBOX_PORT: port(4000),
  /**
   * Address the stand-alone sandbox (`npm run sandbox`, the image) listens on: loopback, or `0.0.0.0` in a
   * container for the worker and API to reach it.
   */
  SANDBOX_HOST: z.string().min(1).default('127.0.0.1'),
  /** gRPC port of the dev server `npm start` runs (not used when `TEMPORAL_ADDRESS` is set). */
  TEMPORAL_PORT: port(7233),
  /** Port of the dev server's Web UI. */
  TEMPORAL_UI_PORT: port(8233),
  /** The Temporal namespace every workflow runs in (also read by `@temporalio/envconfig`). */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /**
   * How many days (1 to 3650) the namespace keeps a closed order's workflow: `npm start` sets it on its dev
   * server, the cluster's setup on its namespace. The store of record keeps the order after that
   * (docs/OPERATIONS.md, "How long an order is kept").
   */
  TEMPORAL_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** Port of the worker's Prometheus endpoint. */
  WORKER_METRICS_PORT: port(9464),
  /** Address of the worker's Prometheus endpoint: loopback, or `0.0.0.0` in a container for Prometheus to reach it. */
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * Where `npm start` keeps the dev server's SQLite database, the store of record (`orders.db`) and the dev
   * encryption key.
   */
  DATA_DIR: z.string().min(1).default('.data'),
  /**
   * The store of record, where every order is kept after Temporal forgets it: `sqlite:<path>`, or
   * `postgres://user:password@host:port/database`; unset: `sqlite:$DATA_DIR/orders.db`. Its schema is created
   * and migrated at start by every API and worker.
   */
  ORDER_STORE_URL: z
    .string()
    .refine((url) => isStoreUrl(url), { message: 'must be sqlite:<path> or a postgres:// URL' })
    .optional(),
  /**
   * `npm start` backs up the dev server's database and the dev key this often into `DATA_DIR/backups/`
   * (docs/OPERATIONS.md); unset: never.
   */
  BACKUP_INTERVAL_MS: z.coerce.number().int().positive().optional(),
  /** How many of those scheduled backups `npm start` keeps, newest first. */
  BACKUP_KEEP: z.coerce.number().int().positive().default(24),
  /**
   * The payment window (15 min by default): after it, an order without a callback asks its provider where the
   * payment stands. The sandbox's `tok_late` pays just after it.
   */
  PAYMENT_WINDOW_MS: millis(900_000),
  /**
   * How long `POST /orders` and cancels wait before answering 202, and the bound on every call the API makes to
   * Temporal.
   */
  ORDER_ACCEPT_TIMEOUT_MS: millis(10_000),
  /**
   * Per API instance: how many `POST /orders` work on Temporal at once, a default measured in
   * docs/PERFORMANCE.md; more wait in line (docs/API.md, "Load shedding and Temporal outages").
   */
  MAX_STARTS_IN_FLIGHT: z.coerce.number().int().positive().default(DEFAULT_MAX_STARTS_IN_FLIGHT),
  /**
   * Per API instance: how long a `POST /orders` may expect to wait in line (at most 25 s, inside a checkout's
   * usual 30 s timeout); one that would wait longer is shed with a 503 and an honest `Retry-After`; `0`: never
   * wait.
   */
  START_QUEUE_WAIT_MS: z.coerce.number().int().min(0).max(25_000).default(DEFAULT_START_QUEUE_WAIT_MS),
  /**
   * Retry budget of each compensation (10 min by default); past it the order goes to `REQUIRES_ATTENTION`. Also
   * the first wait after a refused try of what an ended order owes (a late refund, a late stock release),
   * doubling with each refusal up to a day (docs/SAGA.md, "Money that arrives late or astray").
   */
  COMPENSATION_GIVE_UP_MS: millis(600_000),
  /**
   * How long the catalog check, the reservation and reconciliation retry a system that does not answer (10 min
   * by default) before the order compensates or waits for an operator.
   */
  STEP_GIVE_UP_MS: millis(600_000),
  /** Bound on each call the worker makes to an external system, answer included. */
  HTTP_TIMEOUT_MS: millis(DEFAULT_HTTP_TIMEOUT_MS),
  /**
   * An order whose status does not move for a whole period of this length (1 h by default) is flagged
   * `needsAttention`; keep it longer than the payment window.
   */
  ORDER_STATE_SLA_MS: millis(3_600_000),
  /**
   * When a customer who has not paid is reminded with the payment link: shares of the window (`50%`) or
   * durations after the link (`10m`), as a JSON array; `[]` for none (docs/API.md, "Payment reminders").
   */
  PAYMENT_REMINDERS: json(z.array(z.string().min(1))).default(['50%']),
  /**
   * Bearer tokens, JSON: token → `{ "name": string, "scopes": string[] }` (docs/API.md, "Authentication");
   * unset: the dev tokens `npm start` prints.
   */
  API_KEYS: json(ApiKeys).optional(),
  /**
   * The payment providers, tried in this order (the first is the primary), as a JSON array of `{ "type":
   * "http", "name", "baseUrl", "webhookSecret" }` (`type` may be left out) or `{ "type": "stripe", "name",
   * "apiKey", "webhookSecret", "successUrl", "cancelUrl"?, "apiBase"? }` (docs/SYSTEMS.md). Names are lowercase
   * letters, digits and dashes; secrets at least 8 characters; an unknown field is refused. Unset: the
   * sandbox's `primary` and `backup` at `$SANDBOX_URL/providers/<name>`, secrets `whsec_dev_primary` and
   * `whsec_dev_backup`.
   */
  PAYMENT_PROVIDERS: json(
    z
      .array(PaymentProviderConfig)
      .min(1)
      // A name is how an order's record and its compensations say which provider holds its money.
      .refine((providers) => new Set(providers.map((p) => p.name)).size === providers.length, {
        message: 'each provider needs a name of its own',
      }),
  ).optional(),
  /** Where the sandbox's providers send their webhooks; unset: `http://127.0.0.1:$API_PORT`. */
  WEBHOOK_BASE_URL: z.url().optional(),
  /**
   * The checkouts' order webhook endpoints, as a JSON array of `{ "url", "secret", "events"? }`
   * (docs/API.md, "Order webhooks") : `url` http or https, each once; `secret` `whsec_` and the base64 of 24 to
   * 64 bytes; `events` a non-empty list of event types (all when left out). Unset: none.
   */
  ORDER_WEBHOOKS: json(
    z.array(OrderWebhookConfig).refine((hooks) => new Set(hooks.map((hook) => hook.url)).size === hooks.length, {
      message: 'each endpoint is registered once (one URL, one entry)',
    }),
  ).optional(),
  /** How long an order webhook's delivery fails before its order is flagged `WebhooksFailing`. */
  ORDER_WEBHOOK_FLAG_AFTER_MS: millis(60_000),
  /** How often the API checks the orders its live streams watch for news (one visibility call per 100 orders). */
  ORDER_STREAM_POLL_MS: millis(1_000),
  /** How often an idle live stream gets a heartbeat comment. */
  ORDER_STREAM_HEARTBEAT_MS: millis(15_000),
  /**
   * How many live streams one API process keeps open at once (about 24 kB each, docs/PERFORMANCE.md); more get
   * 503 with `Retry-After`.
   */
  ORDER_STREAMS_MAX: z.coerce.number().int().positive().default(10_000),
  /**
   * How long an order webhook's delivery is retried (24 h by default) before that endpoint hears nothing more
   * of the order.
   */
  ORDER_WEBHOOK_GIVE_UP_MS: millis(86_400_000),
  /**
   * Where the sandbox is: the default address of every system below and of the payment providers; unset:
   * `http://127.0.0.1:$SANDBOX_PORT`.
   */
  SANDBOX_URL: z.url().optional(),
  /** Where the worker reaches the catalog (`GET /catalog`); unset: `$SANDBOX_URL` (docs/SYSTEMS.md). */
  CATALOG_URL: z.url().optional(),
  /** Where the worker reaches inventory's reservations (`/inventory/reservations`); unset: `$SANDBOX_URL`. */
  INVENTORY_URL: z.url().optional(),
  /** Where the worker reaches fulfillment (`/fulfillment/orders`); unset: `$SANDBOX_URL`. */
  FULFILLMENT_URL: z.url().optional(),
  /** Where the worker reaches the customer notification service (`POST /notifications`); unset: `$SANDBOX_URL`. */
  NOTIFICATIONS_URL: z.url().optional(),
  /**
   * Payload encryption keys, a JSON array `[{ "id", "key" }]`: `key` 32 bytes in base64, `id` 1–64 characters
   * of `A-Z a-z 0-9 . _ -`; the first key encrypts, every key decrypts. Required in production, the same list
   * in every API and worker; unset: a dev key generated into `$DATA_DIR/encryption-keys.json`.
   */
  ENCRYPTION_KEYS: json(EncryptionKeysJson).optional(),
  /** The loopback-only codec listener `npm start` runs for the local Web UI. */
  DEV_CODEC_PORT: port(8234),
  /**
   * Comma-separated origins allowed to call the codec endpoints from a browser; unset: the local Web UI's,
   * `http://localhost:$TEMPORAL_UI_PORT,http://127.0.0.1:$TEMPORAL_UI_PORT`.
   */
  CODEC_CORS_ORIGINS: z.string().optional(),
  /**
   * Path of a prebuilt workflow bundle (`npm run build`); with tracing on, the worker loads its `.traced.js`
   * twin. Unset: the worker bundles the workflows at start.
   */
  WORKFLOW_BUNDLE: z.string().min(1).optional(),
  /** pino's level for every part: `trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`. */
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** `json` (one object per line) or `pretty`; unset: pretty when `npm start` runs on a terminal, else JSON. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
});

/** The variables `loadConfig` reads itself. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(ConfigEnv.shape);

/** The connection variables `@temporalio/envconfig` reads, besides one `TEMPORAL_GRPC_META_<key>` per header. */
const ENVCONFIG_VARIABLES: readonly string[] = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_PROFILE',
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
];

/** Whether a variable is one the process reads: ours, or a Temporal connection setting envconfig takes. */
export function isReadVariable(name: string): boolean {
  return (
    CONFIG_VARIABLES.includes(name) || ENVCONFIG_VARIABLES.includes(name) || name.startsWith('TEMPORAL_GRPC_META_')
  );
}

/** The sandbox's two providers at `sandboxUrl`, with the dev webhook secrets (docs/API.md, "Configuration"). */
export function devPaymentProviders(sandboxUrl: string): HttpProviderConfig[] {
  return Object.entries(DEV_PROVIDER_SECRETS).map(([name, webhookSecret]) => ({
    type: 'http',
    name,
    baseUrl: `${sandboxUrl}/providers/${name}`,
    webhookSecret,
  }));
}

/** Raised for a bad variable; its message names the variable and what is wrong, never its value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Validated configuration of every part of the stack. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  // An empty variable counts as unset, here and for the Temporal connection.
  const vars = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''),
  );
  const parsed = ConfigEnv.safeParse(vars);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  let paymentReminders;
  try {
    paymentReminders = reminderSchedule(e.PAYMENT_REMINDERS, e.PAYMENT_WINDOW_MS);
  } catch (err) {
    throw new ConfigError(`invalid configuration: PAYMENT_REMINDERS: ${errorMessage(err)}`);
  }
  const temporalConnection = connectionFromEnvconfig(vars);
  const sandboxUrl = e.SANDBOX_URL ?? `http://127.0.0.1:${e.SANDBOX_PORT}`;
  const paymentProviders = e.PAYMENT_PROVIDERS ?? devPaymentProviders(sandboxUrl);
  const orderWebhooks = (e.ORDER_WEBHOOKS ?? []).map((hook) => ({ ...hook, id: webhookEndpointId(hook.url) }));
  const webhooks: WebhookSettings | undefined =
    orderWebhooks.length === 0
      ? undefined
      : {
          endpoints: orderWebhooks.map(({ id, events }) => (events ? { id, events } : { id })),
          flagAfterMs: e.ORDER_WEBHOOK_FLAG_AFTER_MS,
          giveUpMs: e.ORDER_WEBHOOK_GIVE_UP_MS,
        };
  return {
    apiPort: e.API_PORT,
    sandboxPort: e.SANDBOX_PORT,
    sandboxHost: e.SANDBOX_HOST,
    sandboxUrl,
    /** Where the worker reaches each system the saga calls besides the payment providers. */
    systems: {
      catalogUrl: e.CATALOG_URL ?? sandboxUrl,
      inventoryUrl: e.INVENTORY_URL ?? sandboxUrl,
      fulfillmentUrl: e.FULFILLMENT_URL ?? sandboxUrl,
      notificationsUrl: e.NOTIFICATIONS_URL ?? sandboxUrl,
    },
    temporal: {
      /** Set when an existing server is used (`TEMPORAL_ADDRESS`, or a profile's address); then no dev server is started. */
      address: temporalConnection.connectionOptions.address ?? null,
      /** TLS, mTLS files, API key and gRPC metadata, as `@temporalio/envconfig` read them. */
      connection: temporalConnection.connectionOptions,
      devServerPort: e.TEMPORAL_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
      namespace: temporalConnection.namespace ?? e.TEMPORAL_NAMESPACE,
      retentionDays: e.TEMPORAL_RETENTION_DAYS,
    },
    workerMetricsPort: e.WORKER_METRICS_PORT,
    workerMetricsHost: e.WORKER_METRICS_HOST,
    workflowBundle: e.WORKFLOW_BUNDLE ?? null,
    dataDir: e.DATA_DIR,
    orderStoreUrl: e.ORDER_STORE_URL ?? `sqlite:${path.join(e.DATA_DIR, ORDER_STORE_FILE)}`,
    backups: { intervalMs: e.BACKUP_INTERVAL_MS ?? null, keep: e.BACKUP_KEEP },
    orderAcceptTimeoutMs: e.ORDER_ACCEPT_TIMEOUT_MS,
    maxStartsInFlight: e.MAX_STARTS_IN_FLIGHT,
    startQueueWaitMs: e.START_QUEUE_WAIT_MS,
    httpTimeoutMs: e.HTTP_TIMEOUT_MS,
    saga: {
      paymentWindowMs: e.PAYMENT_WINDOW_MS,
      compensationGiveUpMs: e.COMPENSATION_GIVE_UP_MS,
      stepGiveUpMs: e.STEP_GIVE_UP_MS,
      stateSlaMs: e.ORDER_STATE_SLA_MS,
      paymentReminders,
      answerWaitMs: e.ORDER_ACCEPT_TIMEOUT_MS,
      paymentProviders: paymentProviders.map((provider) => provider.name),
      // Left out when none is registered: an order's input then reads as it did before order webhooks.
      ...(webhooks ? { webhooks } : {}),
    },
    /** With their URLs and secrets: the worker's activity signs and sends (activities/status-webhooks.ts). */
    orderWebhooks,
    orderStreams: {
      pollMs: e.ORDER_STREAM_POLL_MS,
      heartbeatMs: e.ORDER_STREAM_HEARTBEAT_MS,
      max: e.ORDER_STREAMS_MAX,
    },
    apiKeys: e.API_KEYS ?? (DEV_API_KEYS as unknown as ApiKeys),
    usingDevApiKeys: e.API_KEYS === undefined,
    paymentProviders,
    webhookBaseUrl: e.WEBHOOK_BASE_URL ?? `http://127.0.0.1:${e.API_PORT}`,
    /** Null: use (or create) the dev key in DATA_DIR, see {@link encryptionKeys}. */
    encryptionKeys: e.ENCRYPTION_KEYS ? toEncryptionKeys(e.ENCRYPTION_KEYS) : null,
    devCodecPort: e.DEV_CODEC_PORT,
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT ?? null },
    codecCorsOrigins: (
      e.CODEC_CORS_ORIGINS ?? `http://localhost:${e.TEMPORAL_UI_PORT},http://127.0.0.1:${e.TEMPORAL_UI_PORT}`
    )
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
  };
}

export type Config = ReturnType<typeof loadConfig>;

/**
 * An entry point's configuration, or exit 1 with the reason on stderr: a bad variable is found before a
 * logger exists (the logger's own settings are among the variables).
 */
export function loadConfigOrExit(part: string, env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    process.stderr.write(`${part}: ${errorMessage(err)}\n`);
    process.exit(1);
  }
}

/**
 * The Temporal connection, by `@temporalio/envconfig`'s conventions: `TEMPORAL_ADDRESS`,
 * `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*` (mTLS files), `TEMPORAL_GRPC_META_*`, and, when
 * `TEMPORAL_PROFILE` or `TEMPORAL_CONFIG_FILE` is set, a profile of the config file (default
 * `~/.config/temporalio/temporal.toml`).
 */
function connectionFromEnvconfig(vars: Record<string, string>) {
  // The config file only when asked for: a profile a developer keeps for the CLI (a Cloud namespace and
  // its key, say) must not redirect `npm start`, the tests or a throwaway stack.
  const useFile = vars.TEMPORAL_PROFILE !== undefined || vars.TEMPORAL_CONFIG_FILE !== undefined;
  try {
    return loadClientConnectConfig({ overrideEnvVars: vars, disableFile: !useFile });
  } catch (err) {
    // The first line only: a parser's further lines quote the file, which may hold a key.
    const reason = errorMessage(err).split('\n')[0];
    throw new ConfigError(`invalid Temporal connection settings: ${reason}`);
  }
}

/** The Temporal address everything connects to: the configured one, or the local dev server's. */
export function temporalAddress(config: Config): string {
  return config.temporal.address ?? `127.0.0.1:${config.temporal.devServerPort}`;
}

/** Everything a client or worker needs to reach Temporal: address, TLS or mTLS, API key, metadata. */
export function temporalConnectionOptions(config: Config): NativeConnectionOptions & { address: string } {
  return { ...config.temporal.connection, address: temporalAddress(config) };
}

/**
 * The payload encryption keys: `ENCRYPTION_KEYS` when set, else the dev key in DATA_DIR (created on first
 * use). Every process of one stack must resolve the same keys, or histories will not decode.
 */
export function encryptionKeys(config: Config): { keys: EncryptionKey[]; source: string } {
  if (config.encryptionKeys) return { keys: config.encryptionKeys, source: 'ENCRYPTION_KEYS' };
  const dev = loadOrCreateDevKeys(config.dataDir);
  return { keys: dev.keys, source: `${dev.created ? 'new ' : ''}dev key in ${dev.file}` };
}
