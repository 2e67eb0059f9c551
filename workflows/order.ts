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
  // See docs/adr/0032-a-new-order-s-first-workflow-task-evaluates.md.
  const order = new OrderSaga(input);
  const { requests, steps, paymentWait, compensation, money, delivery } = order;

  // The handlers, before the first await: callbacks and requests may already be waiting in history.
  wf.setHandler(getOrderQuery, () => order.view);
  wf.setHandler(getEventsQuery, () => order.events);
  wf.setHandler(paymentCallbackSignal, (callback) => requests.takeCallback(callback));
  wf.setHandler(awaitAcceptanceUpdate, () => requests.accepted(), {
    validator: (request) => requests.refuseOtherBody(request),
  });
  wf.setHandler(cancelOrderSignal, (request) => requests.requestCancel(request));
  CancellationScope.current().cancelRequested.catch(() => requests.cancelAsSupport());
  wf.setHandler(awaitCancellationUpdate, () => requests.cancellationSettled());
  wf.setHandler(retryCompensationSignal, (request) =>
    requests.operatorActs(OperatorAction['retry-compensation'], request),
  );
  wf.setHandler(markResolvedSignal, (request) => requests.operatorActs(OperatorAction['mark-resolved'], request));
  void CancellationScope.nonCancellable(() => order.flagWhenStuck());

  return order.story(async () => {
    const outcome = await order.untilPaid(async () => {
      if (!(await steps.allAtOnce())) {
        const total = await steps.validate();
        await steps.reserveStock();
        await steps.requestPayment(total);
      }
      return paymentWait.outcome();
    });
    if (outcome.kind === 'paid') await steps.confirm();
    else if (outcome.kind === 'rejected') steps.reject(outcome.reason);
    else if (outcome.kind === 'compensate') await compensation.compensate(outcome.reason);
    else await compensation.askOperator(outcome.step, outcome.failure);
    await compensation.undoWhatLostTasksMayHaveDone();
    await money.settleStrayPayments();
    await delivery.webhooksDelivered();
    return order.end();
  });
}
