import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far a signature's timestamp may be from now (docs/API.md, "Payment webhooks"): older or newer is a replay or a forgery. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;
export const SIGNATURE_HEADER = 'payment-signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + rawBody)>`, as a provider sends it. */
export function signWebhook(secret: string, rawBody: string | Buffer, timestampSeconds: number): string {
  return `t=${timestampSeconds},v1=${hmac(secret, timestampSeconds, rawBody)}`;
}

export type SignatureCheck = { ok: true } | { ok: false; problem: string };

/** Checks a `Payment-Signature` header against the raw body, in constant time. */
export function verifyWebhookSignature(
  secret: string,
  rawBody: Buffer,
  header: string | undefined,
  nowSeconds: number,
): SignatureCheck {
  if (!header) return { ok: false, problem: 'the Payment-Signature header is missing' };
  const parts = new Map<string, string[]>();
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    parts.set(key, [...(parts.get(key) ?? []), part.slice(eq + 1).trim()]);
  }
  const t = parts.get('t')?.[0];
  if (!t || !/^\d{1,12}$/.test(t)) return { ok: false, problem: 'the signature has no valid timestamp' };
  const timestamp = Number(t);
  if (Math.abs(nowSeconds - timestamp) > SIGNATURE_TOLERANCE_SECONDS) {
    return { ok: false, problem: 'the signature timestamp is outside the tolerance' };
  }
  const expected = Buffer.from(hmac(secret, timestamp, rawBody), 'hex');
  const matches = (parts.get('v1') ?? []).some((candidate) => {
    if (!/^[0-9a-f]+$/i.test(candidate)) return false;
    const given = Buffer.from(candidate, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return matches ? { ok: true } : { ok: false, problem: 'the signature does not match' };
}

function hmac(secret: string, timestampSeconds: number, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(rawBody).digest('hex');
}
