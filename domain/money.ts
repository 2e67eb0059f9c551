/** Minor units per major unit, from the currency's own digits (JPY has none, most have two). */
function fractionDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** An amount in minor units as people read it: `39.98 EUR`. For display only; amounts stay integers everywhere else. */
export function formatAmount(minor: number, currency: string): string {
  const digits = fractionDigits(currency);
  return `${(minor / 10 ** digits).toFixed(digits)} ${currency}`;
}
