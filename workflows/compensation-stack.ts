import { errorMessage } from '../domain/errors';
/** One compensating action: a name for the record and an idempotent undo. */
export interface StackedUndo {
  name: string;
  undo: () => Promise<void>;
}

export interface CompensationFailure {
  name: string;
  message: string;
}

/**
 * A stack of compensations. Each is pushed *before* the step it undoes (an ambiguous failure of the step
 * still gets undone), runs in reverse order, and stays on the stack until it succeeds, so an operator's
 * retry runs exactly the ones that failed.
 */
export class CompensationStack {
  private readonly stack: StackedUndo[] = [];
  /** Every name ever added, whether its undo has run since or not. */
  private readonly added = new Set<string>();

  add(name: string, undo: () => Promise<void>): void {
    this.added.add(name);
    this.stack.push({ name, undo });
  }

  /** Whether an undo of that name was ever added, whether it has run since or not. */
  wasAdded(name: string): boolean {
    return this.added.has(name);
  }

  /** The names of the compensations still to run, in the order they will run. */
  get pending(): string[] {
    return this.stack.map(({ name }) => name).reverse();
  }

  /** Runs every pending compensation, last added first; returns the failures (empty when all succeeded). */
  async run(): Promise<CompensationFailure[]> {
    const failures: CompensationFailure[] = [];
    const failed: StackedUndo[] = [];
    while (this.stack.length > 0) {
      const next = this.stack.pop()!;
      try {
        await next.undo();
      } catch (err) {
        failed.push(next);
        failures.push({ name: next.name, message: errorMessage(err) });
      }
    }
    // Failed ones go back in their original order, so a retry keeps the reverse order.
    this.stack.push(...failed.reverse());
    return failures;
  }
}
