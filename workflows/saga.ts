// A compensation stack. Pure logic with no Temporal imports, so it is unit-tested directly; the
// workflow runs compensate() inside CancellationScope.nonCancellable.

export interface CompensationOutcome<T = unknown> {
  label: string;
  ok: boolean;
  result?: T;
  error?: unknown;
}

interface Entry {
  label: string;
  run: () => Promise<unknown>;
}

export class Saga {
  private readonly stack: Entry[] = [];

  /** Registers the undo of a step that has taken effect. */
  push(label: string, run: () => Promise<unknown>): void {
    this.stack.push({ label, run });
  }

  /**
   * Forgets a compensation whose step has been superseded (a staged artifact that a swap has
   * since installed: there is nothing left to discard). True when it was registered.
   */
  drop(label: string): boolean {
    const index = this.stack.findIndex((e) => e.label === label);
    if (index < 0) return false;
    this.stack.splice(index, 1);
    return true;
  }

  get size(): number {
    return this.stack.length;
  }

  /** Labels in the order compensate() would run them (last pushed first). */
  pending(): string[] {
    return this.stack.map((e) => e.label).reverse();
  }

  /**
   * Runs every compensation, newest first. One that fails does not stop the others: a device
   * whose restore failed must not leave every other device on the rejected model. Each entry
   * is removed before it runs, so a second call never repeats a compensation.
   */
  async compensate(): Promise<CompensationOutcome[]> {
    const outcomes: CompensationOutcome[] = [];
    for (let entry = this.stack.pop(); entry; entry = this.stack.pop()) {
      try {
        outcomes.push({ label: entry.label, ok: true, result: await entry.run() });
      } catch (error) {
        outcomes.push({ label: entry.label, ok: false, error });
      }
    }
    return outcomes;
  }
}
