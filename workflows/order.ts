import * as wf from '@temporalio/workflow';
import { CancellationScope } from '@temporalio/workflow';
import {
  awaitAcceptanceUpdate,
  awaitCancellationUpdate,
  cancelOrderSignal,
  getEventsQuery,
  getOrderQuery,
  markResolvedSignal,
  paymentCallbackSignal,
  retryCompensationSignal,
  type OrderWorkflowInput,
} from '../domain/contract';
import { OperatorAction } from '../domain/operator-actions';
import type { OrderView } from '../domain/order-state';
import { OrderSaga } from './order-saga';

/**
 * One customer order as a saga: validate → reserve stock → request payment → await the provider's
 * callback (reconciling when it never comes) → confirm; on any failure, compensate in reverse order.
 */
export async function orderWorkflow(input: OrderWorkflowInput): Promise<OrderView> {
  // The API built this input from a request it parsed, and the workflow takes it as it is: reading it again
  // would evaluate zod and the contract's schemas in every new order's first task.
  // See docs/DESIGN.md, "Decisions", 32.
  const order = new OrderSaga(input);

  // The handlers, before the first await: callbacks and requests may already be waiting in history.
  wf.setHandler(getOrderQuery, () => order.view);
  wf.setHandler(getEventsQuery, () => order.events);
  wf.setHandler(paymentCallbackSignal, (callback) => order.takeCallback(callback));
  wf.setHandler(awaitAcceptanceUpdate, () => order.accepted(), {
    validator: (request) => order.refuseOtherBody(request),
  });
  wf.setHandler(cancelOrderSignal, (request) => order.requestCancel(request));
  CancellationScope.current().cancelRequested.catch(() => order.cancelAsSupport());
  wf.setHandler(awaitCancellationUpdate, () => order.cancellationSettled());
  wf.setHandler(retryCompensationSignal, (request) =>
    order.operatorActs(OperatorAction['retry-compensation'], request),
  );
  wf.setHandler(markResolvedSignal, (request) => order.operatorActs(OperatorAction['mark-resolved'], request));
  void CancellationScope.nonCancellable(() => order.flagWhenStuck());

  return order.story(async () => {
    const outcome = await order.untilPaid(async () => {
      if (!(await order.forwardStepsAtOnce())) {
        const total = await order.validate();
        await order.reserveStock();
        await order.requestPayment(total);
      }
      return order.awaitPayment();
    });
    if (outcome.kind === 'paid') await order.confirm();
    else if (outcome.kind === 'rejected') order.reject(outcome.reason);
    else if (outcome.kind === 'compensate') await order.compensate(outcome.reason);
    else await order.askOperator(outcome.step, outcome.failure);
    await order.undoWhatLostTasksMayHaveDone();
    await order.settleStrayPayments();
    await order.webhooksDelivered();
    return order.end();
  });
}
