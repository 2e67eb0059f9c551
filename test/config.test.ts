import { loadConfig } from '../config';

/** The variables the new operations read: a value that does not parse stops the process with the variable named. */
const provider = (name: string) => ({ name, baseUrl: 'http://127.0.0.1:4000/p', webhookSecret: 'whsec_test' });

test('two payment providers of one name are refused, naming the variable', () => {
  const env = { PAYMENT_PROVIDERS: JSON.stringify([provider('primary'), provider('primary')]) };
  expect(() => loadConfig(env)).toThrow(/PAYMENT_PROVIDERS.*each provider needs a name of its own/);
  expect(
    loadConfig({ PAYMENT_PROVIDERS: JSON.stringify([provider('a'), provider('b')]) }).saga.paymentProviders,
  ).toEqual(['a', 'b']);
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
