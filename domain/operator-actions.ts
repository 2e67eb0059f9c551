/**
 * The operator actions support staff can take on an order in `REQUIRES_ATTENTION`, as plain strings: the
 * workflow compares against them without loading the event schemas (built again for every workflow).
 */
export const OperatorAction = {
  'retry-compensation': 'retry-compensation',
  'mark-resolved': 'mark-resolved',
} as const;
