import { loadConfig } from '../config';
import { activityEndpoints } from '../worker/worker';

/** The variables the new operations read: a value that does not parse stops the process with the variable named. */
const provider = (name: string) => ({ name, baseUrl: 'http://127.0.0.1:4000/p', webhookSecret: 'whsec_test' });

test('two payment providers of one name are refused, naming the variable', () => {
  const env = { PAYMENT_PROVIDERS: JSON.stringify([provider('primary'), provider('primary')]) };
  expect(() => loadConfig(env)).toThrow(/PAYMENT_PROVIDERS.*each provider needs a name of its own/);
  expect(
    loadConfig({ PAYMENT_PROVIDERS: JSON.stringify([provider('a'), provider('b')]) }).saga.paymentProviders,
  ).toEqual(['a', 'b']);
});

test('a provider is of type http unless it says stripe; a stripe one needs its key, secret and success URL, and no key is echoed', () => {
  const stripe = {
    name: 'card',
    type: 'stripe',
    apiKey: 'sk_test_do_not_echo',
    webhookSecret: 'whsec_test',
    successUrl: 'https://shop.example/paid',
  };
  const config = loadConfig({ PAYMENT_PROVIDERS: JSON.stringify([stripe, provider('backup')]) });
  expect(config.paymentProviders.map((p) => p.type)).toEqual(['stripe', 'http']);
  expect(config.saga.paymentProviders).toEqual(['card', 'backup']);

  const { successUrl: _left, ...noSuccessUrl } = stripe;
  expect(() => loadConfig({ PAYMENT_PROVIDERS: JSON.stringify([noSuccessUrl]) })).toThrow(
    /PAYMENT_PROVIDERS.0.successUrl/,
  );
  const typo = { ...stripe, type: 'strype' };
  expect(() => loadConfig({ PAYMENT_PROVIDERS: JSON.stringify([typo]) })).toThrow(/PAYMENT_PROVIDERS.0.type/);
  // A stripe entry carries no baseUrl, an http one no apiKey: a field of the other type is a mistake to say.
  expect(() => loadConfig({ PAYMENT_PROVIDERS: JSON.stringify([{ ...stripe, baseUrl: 'http://x.example' }]) })).toThrow(
    /PAYMENT_PROVIDERS/,
  );
  const badBase = () => loadConfig({ PAYMENT_PROVIDERS: JSON.stringify([{ ...stripe, apiBase: 'not a url' }]) });
  expect(badBase).toThrow(/PAYMENT_PROVIDERS.0.apiBase/);
  expect(badBase).not.toThrow(/sk_test_do_not_echo/);
});

test('backups on a schedule: off by default, an interval that is not a positive whole number refused', () => {
  expect(loadConfig({}).backups).toEqual({ intervalMs: null, keep: 24 });
  expect(loadConfig({ BACKUP_INTERVAL_MS: '60000', BACKUP_KEEP: '3' }).backups).toEqual({
    intervalMs: 60_000,
    keep: 3,
  });
  expect(() => loadConfig({ BACKUP_INTERVAL_MS: 'hourly' })).toThrow(/BACKUP_INTERVAL_MS/);
  expect(() => loadConfig({ BACKUP_KEEP: '0' })).toThrow(/BACKUP_KEEP/);
});

describe('ORDER_WEBHOOKS', () => {
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  const hook = (overrides: object = {}) => ({ url: 'https://checkout.example/hooks', secret, ...overrides });
  const load = (hooks: unknown) => loadConfig({ ORDER_WEBHOOKS: JSON.stringify(hooks) });

  test('unset: no endpoint, and the saga settings say nothing of webhooks', () => {
    const config = loadConfig({});
    expect(config.orderWebhooks).toEqual([]);
    expect(config.saga).not.toHaveProperty('webhooks');
  });

  test("an endpoint is named in the saga settings by its URL's digest, never by its URL or secret", () => {
    const config = load([hook({ events: ['order.confirmed'] })]);
    const [endpoint] = config.orderWebhooks;
    expect(endpoint).toMatchObject({ url: 'https://checkout.example/hooks', secret });
    expect(endpoint!.id).toMatch(/^wh_[0-9a-f]{16}$/);
    expect(config.saga.webhooks).toEqual({
      endpoints: [{ id: endpoint!.id, events: ['order.confirmed'] }],
      flagAfterMs: 60_000,
      giveUpMs: 86_400_000,
    });
    expect(JSON.stringify(config.saga)).not.toContain('checkout.example');
    expect(JSON.stringify(config.saga)).not.toContain(secret);
  });

  test.each([
    ['not JSON', '[{', /ORDER_WEBHOOKS: is not valid JSON/],
    ['a URL that is not one', [hook({ url: 'checkout' })], /ORDER_WEBHOOKS\.0\.url: must be an http or https URL/],
    ['a URL of another scheme', [hook({ url: 'ftp://checkout.example' })], /ORDER_WEBHOOKS\.0\.url/],
    [
      'a secret not in the Standard Webhooks form',
      [hook({ secret: 'hunter2' })],
      /ORDER_WEBHOOKS\.0\.secret: must be whsec_/,
    ],
    ['a secret of too few bytes', [hook({ secret: 'whsec_c2hvcnQ=' })], /ORDER_WEBHOOKS\.0\.secret/],
    ['an event type that does not exist', [hook({ events: ['order.shipped'] })], /ORDER_WEBHOOKS\.0\.events\.0/],
    ['an unknown field', [hook({ retries: 3 })], /ORDER_WEBHOOKS\.0/],
    ['one URL twice', [hook(), hook()], /ORDER_WEBHOOKS: each endpoint is registered once/],
  ])('%s is refused, naming the field and never the secret', (_what, hooks, message) => {
    const env = { ORDER_WEBHOOKS: typeof hooks === 'string' ? hooks : JSON.stringify(hooks) };
    const refusal = refusalOf(() => loadConfig(env));
    expect(refusal).toMatch(message);
    // The secrets this case supplied, whatever they are: none may be quoted.
    const supplied = typeof hooks === 'string' ? [] : hooks.map((entry) => (entry as { secret: string }).secret);
    for (const given of supplied) expect(refusal).not.toContain(given);
  });
});

/** The message `load` throws with (a test fails if it does not throw). */
function refusalOf(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('PAYMENT_REMINDERS', () => {
  test('half the window by default; shares and durations, earliest first; [] for none', () => {
    expect(loadConfig({}).saga.paymentReminders).toEqual([{ point: '50%', afterMs: 450_000 }]);
    expect(
      loadConfig({ PAYMENT_WINDOW_MS: '3600000', PAYMENT_REMINDERS: '["75%", "10m", "12.5%"]' }).saga.paymentReminders,
    ).toEqual([
      { point: '12.5%', afterMs: 450_000 },
      { point: '10m', afterMs: 600_000 },
      { point: '75%', afterMs: 2_700_000 },
    ]);
    expect(loadConfig({ PAYMENT_REMINDERS: '[]' }).saga.paymentReminders).toEqual([]);
  });

  test.each([
    ['a point at or past the window', '["20m"]', /PAYMENT_REMINDERS: 20m does not fall inside the payment window/],
    ['a share of nothing', '["0%"]', /PAYMENT_REMINDERS: 0% does not fall inside/],
    ['neither a share nor a duration', '["soon"]', /PAYMENT_REMINDERS: soon is neither a share of the window/],
    ['two points at one time', '["50%", "7.5m"]', /PAYMENT_REMINDERS: two points fall at the same time/],
    ['not a list of strings', '[50]', /PAYMENT_REMINDERS/],
    ['not JSON', '50%', /PAYMENT_REMINDERS: is not valid JSON/],
  ])('%s is refused, naming the variable and the point', (_name, value, error) => {
    expect(() => loadConfig({ PAYMENT_REMINDERS: value })).toThrow(error);
  });
});

test('each system the worker calls is at its own address when given one, else at the sandbox', () => {
  const sandbox = 'http://sandbox.internal:4000';
  expect(activityEndpoints(loadConfig({ SANDBOX_URL: sandbox }))).toMatchObject({
    catalogUrl: sandbox,
    inventoryUrl: sandbox,
    fulfillmentUrl: sandbox,
    notificationsUrl: sandbox,
  });
  const own = {
    CATALOG_URL: 'https://catalog.shop.example',
    INVENTORY_URL: 'https://stock.shop.example/v2',
    FULFILLMENT_URL: 'https://warehouse.example',
    NOTIFICATIONS_URL: 'http://mailer.internal:8025',
  };
  expect(activityEndpoints(loadConfig({ SANDBOX_URL: sandbox, ...own }))).toMatchObject({
    catalogUrl: own.CATALOG_URL,
    inventoryUrl: own.INVENTORY_URL,
    fulfillmentUrl: own.FULFILLMENT_URL,
    notificationsUrl: own.NOTIFICATIONS_URL,
  });
  expect(() => loadConfig({ FULFILLMENT_URL: 'warehouse' })).toThrow(/FULFILLMENT_URL/);
});
