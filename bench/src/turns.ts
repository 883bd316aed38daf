/**
 * Runs tasks one at a time, in the order they were asked for. With `bench:compare --interleave`
 * each server's search asks for a turn per step, so the searches alternate step by step and every
 * server meets the machine's quiet and busy minutes alike, instead of one server having them all.
 */
export class Turns {
  private tail: Promise<void> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
