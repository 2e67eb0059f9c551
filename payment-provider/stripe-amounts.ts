import { fractionDigits, formatAmount } from '../domain/money';

/**
 * Amounts as Stripe takes them (https://docs.stripe.com/currencies). The saga counts in each currency's ISO
 * minor units; Stripe counts most currencies in cents, a few in whole units (zero-decimal) and five in
 * thousandths whose last digit must be 0. Where ISO and Stripe disagree (ISK: no decimals in ISO, two at
 * Stripe) the amount is scaled.
 */
const ZERO_DECIMAL = new Set([
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'JPY',
  'KMF',
  'KRW',
  'MGA',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
]);
const THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

/**
 * Stripe's minimum charge per currency, in Stripe's units: its table for the currencies it settles in.
 * Another currency's minimum is the equivalent of USD 0.50 at the day's rate, which only Stripe knows: its
 * refusal (`amount_too_small`) is read as a decline like these.
 */
const MINIMUM_CHARGE: Readonly<Record<string, number>> = {
  USD: 50,
  AED: 200,
  AUD: 50,
  BGN: 100,
  BRL: 50,
  CAD: 50,
  CHF: 50,
  CZK: 1500,
  DKK: 250,
  EUR: 50,
  GBP: 30,
  HKD: 400,
  HUF: 17500,
  INR: 50,
  JPY: 50,
  MXN: 1000,
  MYR: 200,
  NOK: 300,
  NZD: 50,
  PLN: 200,
  RON: 200,
  SEK: 300,
  SGD: 50,
  THB: 1000,
};
/** Stripe takes at most eight digits of its units in one charge (USD 999,999.99). */
const MAXIMUM_CHARGE = 99_999_999;

function stripeDigits(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0;
  return THREE_DECIMAL.has(currency) ? 3 : 2;
}

export type StripeAmount = { ok: true; amount: number } | { ok: false; problem: string };

/**
 * An amount (ISO minor units) in Stripe's units, or why Stripe cannot take it in any call: a fraction of
 * its unit, or a three-decimal amount not ending in 0.
 */
export function toStripeUnits(minor: number, currency: string): StripeAmount {
  const code = currency.toUpperCase();
  const shift = stripeDigits(code) - fractionDigits(code);
  const amount = shift >= 0 ? minor * 10 ** shift : minor / 10 ** -shift;
  const shown = formatAmount(minor, code);
  if (!Number.isInteger(amount)) return { ok: false, problem: `Stripe takes ${code} in whole units, not ${shown}` };
  if (THREE_DECIMAL.has(code) && amount % 10 !== 0) {
    return { ok: false, problem: `Stripe takes ${code} amounts ending in 0, not ${shown}` };
  }
  return { ok: true, amount };
}

/** An order's charge in Stripe's units, or why Stripe would refuse it: its units, then its limits for a charge. */
export function toStripeCharge(minor: number, currency: string): StripeAmount {
  const units = toStripeUnits(minor, currency);
  if (!units.ok) return units;
  const code = currency.toUpperCase();
  const shown = formatAmount(minor, code);
  const minimum = MINIMUM_CHARGE[code];
  if (minimum !== undefined && units.amount < minimum) {
    const least = formatAmount(fromStripeAmount(minimum, code), code);
    return { ok: false, problem: `${shown} is below Stripe's minimum charge of ${least}` };
  }
  if (units.amount > MAXIMUM_CHARGE) return { ok: false, problem: `${shown} is above Stripe's maximum charge` };
  return units;
}

/** A Stripe amount back in the currency's ISO minor units, as the saga counts. */
export function fromStripeAmount(amount: number, currency: string): number {
  const code = currency.toUpperCase();
  const shift = stripeDigits(code) - fractionDigits(code);
  return shift >= 0 ? Math.round(amount / 10 ** shift) : amount * 10 ** -shift;
}
