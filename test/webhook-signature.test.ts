import { signWebhook, verifyWebhookSignature } from '../payment-provider/signature';

const secret = 'whsec_test_secret';
const body = Buffer.from('{"id":"evt_1"}');
const now = 1_795_000_000;

test('a signature made with the secret over the raw body verifies', () => {
  expect(verifyWebhookSignature(secret, body, signWebhook(secret, body, now), now)).toEqual({ ok: true });
});

test.each([
  ['no header', undefined],
  ['another secret', signWebhook('whsec_other_secret', body, now)],
  ['a different body', signWebhook(secret, '{"id":"evt_2"}', now)],
  ['a timestamp 301 s old', signWebhook(secret, body, now - 301)],
  ['a timestamp 301 s ahead', signWebhook(secret, body, now + 301)],
  ['garbage', 'nonsense'],
  ['a truncated digest', signWebhook(secret, body, now).slice(0, -2)],
])('refused: %s', (_name, header) => {
  expect(verifyWebhookSignature(secret, body, header, now).ok).toBe(false);
});

test('a timestamp 300 s old is still inside the tolerance', () => {
  expect(verifyWebhookSignature(secret, body, signWebhook(secret, body, now - 300), now).ok).toBe(true);
});
