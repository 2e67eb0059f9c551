/** The workflows the worker registers (the bundle's entry point). */
export { orderWorkflow } from './order';
export { latePaymentRefundWorkflow } from './late-refund';
export { lateStockReleaseWorkflow } from './late-release';
