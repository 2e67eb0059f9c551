import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { KEY_BYTES, type EncryptionKey } from './encryption-codec';

/** `ENCRYPTION_KEYS`: a JSON array of `{ "id", "key" }` with base64 keys; the first encrypts, all decrypt. */
export const EncryptionKeysJson = z
  .array(
    z.object({
      id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
      key: z
        .base64()
        .refine((key) => Buffer.from(key, 'base64').length === KEY_BYTES, `must be ${KEY_BYTES} bytes, base64`),
    }),
  )
  .min(1);
export type EncryptionKeysJson = z.infer<typeof EncryptionKeysJson>;

export function toEncryptionKeys(json: EncryptionKeysJson): EncryptionKey[] {
  return json.map(({ id, key }) => ({ id, key: Buffer.from(key, 'base64') }));
}

/** The dev keys' file in DATA_DIR. */
export const DEV_KEYS_FILE = 'encryption-keys.json';

/**
 * The local stack's keys when `ENCRYPTION_KEYS` is unset: generated once into DATA_DIR (readable by its
 * owner only), so histories written by one `npm start` decode in the next. Never for production.
 */
export function loadOrCreateDevKeys(dataDir: string): { keys: EncryptionKey[]; file: string; created: boolean } {
  const file = path.resolve(dataDir, DEV_KEYS_FILE);
  const existing = readDevKeys(dataDir);
  if (existing) return { keys: existing, file, created: false };
  mkdirSync(dataDir, { recursive: true });
  const json: EncryptionKeysJson = [
    { id: `dev-${Date.now().toString(36)}`, key: randomBytes(KEY_BYTES).toString('base64') },
  ];
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { keys: toEncryptionKeys(json), file, created: true };
}

/** The dev keys in DATA_DIR if a local stack has made them, without making any (for read-only tools). */
export function readDevKeys(dataDir: string): EncryptionKey[] | null {
  const file = path.resolve(dataDir, DEV_KEYS_FILE);
  if (!existsSync(file)) return null;
  return toEncryptionKeys(EncryptionKeysJson.parse(JSON.parse(readFileSync(file, 'utf8'))));
}
