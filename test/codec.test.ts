import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec, PayloadDecryptionError } from '../codec';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../codec/encryption-codec';

const key = (id: string) => ({ id, key: randomBytes(32) });
const secret = { email: 'ada@example.com', line1: '1 Main St' };
const plain = () => defaultPayloadConverter.toPayload(secret);

test('round trip: what is encoded decodes to the same payload, and the ciphertext shows nothing of it', async () => {
  const codec = new EncryptionCodec([key('k1')]);
  const [encoded] = await codec.encode([plain()]);
  expect(Buffer.from(encoded!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
  expect(Buffer.from(encoded!.metadata![KEY_ID_METADATA]!).toString()).toBe('k1');
  expect(Buffer.from(encoded!.data!).includes('ada@example.com')).toBe(false);
  const [decoded] = await codec.decode([encoded!]);
  expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(secret);
});

test('the same payload encrypts differently each time (a fresh IV per payload)', async () => {
  const codec = new EncryptionCodec([key('k1')]);
  const [a, b] = await codec.encode([plain(), plain()]);
  expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
});

test('rotation: a new first key encrypts, and payloads under the old key still decode', async () => {
  const old = key('k1');
  const [underOld] = await new EncryptionCodec([old]).encode([plain()]);
  const rotated = new EncryptionCodec([key('k2'), old]);
  const [underNew] = await rotated.encode([plain()]);
  expect(Buffer.from(underNew!.metadata![KEY_ID_METADATA]!).toString()).toBe('k2');
  const decoded = await rotated.decode([underOld!, underNew!]);
  expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([secret, secret]);
});

test('tampered ciphertext is refused', async () => {
  const codec = new EncryptionCodec([key('k1')]);
  const [encoded] = await codec.encode([plain()]);
  const data = Buffer.from(encoded!.data!);
  data[20] = data[20]! ^ 0xff;
  await expect(codec.decode([{ ...encoded!, data }])).rejects.toThrow(PayloadDecryptionError);
});

test('a payload under an unknown key id is refused, naming the id', async () => {
  const [encoded] = await new EncryptionCodec([key('k-retired')]).encode([plain()]);
  await expect(new EncryptionCodec([key('k2')]).decode([encoded!])).rejects.toThrow(/k-retired/);
});

test('payloads that are not encrypted pass through decode untouched', async () => {
  const payload = plain();
  expect(await new EncryptionCodec([key('k1')]).decode([payload])).toEqual([payload]);
});
