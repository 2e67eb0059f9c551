import { Registry } from 'prom-client';
import { StartAdmission, type Admission } from '../api/admission';

/** Admission alone, on a clock the test moves: who goes at once, who waits in line, who is shed and told when. */
function admissionAt(limit: number, maxWaitMs: number) {
  let now = 1_000_000;
  const admission = new StartAdmission(limit, maxWaitMs, new Registry(), () => now);
  return { admission, tick: (ms: number) => (now += ms) };
}

const admitted = (decision: Admission | Promise<Admission>) => {
  if (decision instanceof Promise) throw new Error('expected a decision at once');
  if (decision.kind !== 'admitted') throw new Error(`expected admitted, got ${JSON.stringify(decision)}`);
  return decision;
};
const retryAfterOf = (decision: Admission | Promise<Admission>) => {
  if (decision instanceof Promise || decision.kind !== 'shed') throw new Error('expected a shed at once');
  return decision.retryAfterS;
};

test('up to the limit go at once; the next wait in line and are let in first come, first served', async () => {
  const { admission } = admissionAt(2, 10_000);
  const first = admitted(admission.admit());
  admitted(admission.admit());
  expect(first.answerOnceStarted).toBe(false);
  const order: string[] = [];
  const waiting = ['a', 'b', 'c'].map((name) => {
    const decision = admission.admit();
    expect(decision).toBeInstanceOf(Promise);
    return (decision as Promise<Admission>).then((d) => (order.push(name), d));
  });
  expect(admission.status()).toMatchObject({ startsInFlight: 2, startsWaiting: 3 });
  first.release();
  first.release(); // twice is once
  const a = await waiting[0]!;
  expect(a).toMatchObject({ kind: 'admitted', answerOnceStarted: true });
  expect(admission.status()).toMatchObject({ startsInFlight: 2, startsWaiting: 2 });
  (a as Extract<Admission, { kind: 'admitted' }>).release();
  await waiting[1];
  expect(order).toEqual(['a', 'b']);
});

test('for a few seconds after a line, a start admitted at once is answered once started too', async () => {
  const { admission, tick } = admissionAt(1, 10_000);
  const slot = admitted(admission.admit());
  const waiting = admission.admit() as Promise<Admission>;
  slot.release();
  admitted(await waiting).release();
  tick(4_000);
  const soon = admitted(admission.admit());
  expect(soon.answerOnceStarted).toBe(true);
  soon.release();
  tick(1_001);
  expect(admitted(admission.admit()).answerOnceStarted).toBe(false);
});

test('a caller who leaves while in line gives up its place to the one behind', async () => {
  const { admission } = admissionAt(1, 10_000);
  const slot = admitted(admission.admit());
  let leave!: () => void;
  void admission.admit((giveUp) => (leave = giveUp));
  const next = admission.admit() as Promise<Admission>;
  leave();
  expect(admission.status().startsWaiting).toBe(1);
  slot.release();
  expect(await next).toMatchObject({ kind: 'admitted', answerOnceStarted: true });
});

test('beyond the wait the line allows, a start is shed with a Retry-After from the backlog and the drain rate', () => {
  // Two slots, so two a second before anything is measured: a line of up to 20 fits within 10 s.
  const { admission } = admissionAt(2, 10_000);
  admitted(admission.admit());
  admitted(admission.admit());
  for (let i = 0; i < 20; i++) expect(admission.admit()).toBeInstanceOf(Promise);
  // The 21st in line would wait 10.5 s. Told to come back when the line is half its longest: in 5.5 s.
  expect(retryAfterOf(admission.admit())).toBe(6);
  // Each shed caller after it is told a later time, half a second (one start's share) apart.
  const later = Array.from({ length: 4 }, () => retryAfterOf(admission.admit()));
  expect(later).toEqual([6, 7, 7, 8]);
  expect(admission.status().shedding).toBe(true);
});

test('the drain rate is measured from how long starts answered once started hold their slot, and Retry-After follows it', async () => {
  const { admission, tick } = admissionAt(1, 5_000);
  let slot = admitted(admission.admit());
  const line = Array.from({ length: 2 }, () => admission.admit() as Promise<Admission>);
  // One slot, each start answered once started holding it a tenth of a second: ten a second.
  for (let i = 0; i < 10; i++) {
    line.push(admission.admit() as Promise<Admission>);
    tick(100);
    slot.release();
    slot = (await line.shift()!) as Extract<Admission, { kind: 'admitted' }>;
  }
  // At ten a second, a line of 5 s holds 50: these all wait.
  while (admission.status().startsWaiting < 50) expect(admission.admit()).toBeInstanceOf(Promise);
  // The next would wait 5.1 s: back when the line is at 2.5 s, in 2.6 s, rounded up.
  expect(retryAfterOf(admission.admit())).toBe(3);
});

test('with no wait allowed, a full API sheds at once and says to come back in a second', () => {
  const { admission } = admissionAt(1, 0);
  admitted(admission.admit());
  expect(retryAfterOf(admission.admit())).toBe(1);
});
