/** Digits per currency, looked up once: building an `Intl.NumberFormat` costs more than the formatting. */
const digitsByCurrency = new Map<string, number>();

/** Minor units per major unit, from the currency's own digits (JPY has none, most have two). */
export function fractionDigits(currency: string): number {
  let digits = digitsByCurrency.get(currency);
  if (digits === undefined) {
    try {
      digits =
        new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    digitsByCurrency.set(currency, digits);
  }
  return digits;
}

/** An amount in minor units as people read it: `39.98 EUR`. For display only; amounts stay integers everywhere else. */
export function formatAmount(minor: number, currency: string): string {
  const digits = fractionDigits(currency);
  return `${(minor / 10 ** digits).toFixed(digits)} ${currency}`;
}
