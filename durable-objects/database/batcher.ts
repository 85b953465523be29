// Group commit: items that arrive while a write is in flight wait and go
// together in the next write, so the number of statements follows the
// commit rate PostgreSQL can reach, not the number of rooms or messages.

/** Writes one batch; answers one result per item, in order. */
export type BatchWrite<I, R> = (items: I[]) => Promise<R[]>;

interface Pending<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/** What the batcher did so far, for metrics and tests. */
export interface BatcherStats {
  batches: number;
  items: number;
  largest: number;
}

/**
 * Queues items and writes them in batches of at most `maxItems`, with at
 * most `concurrency` writes in flight. An idle batcher writes a lone item at
 * once (no timer, no added latency); under load, batches grow by themselves.
 * A failed write rejects every item of its batch and no other.
 */
export class Batcher<I, R> {
  readonly #write: BatchWrite<I, R>;
  readonly #maxItems: number;
  readonly #concurrency: number;
  readonly #onBatch: ((size: number, ms: number, ok: boolean) => void) | undefined;
  #queue: Pending<I, R>[] = [];
  #inFlight = 0;
  readonly stats: BatcherStats = { batches: 0, items: 0, largest: 0 };

  constructor(
    write: BatchWrite<I, R>,
    options: { maxItems: number; concurrency: number; onBatch?: (size: number, ms: number, ok: boolean) => void },
  ) {
    this.#write = write;
    this.#maxItems = Math.max(1, options.maxItems);
    this.#concurrency = Math.max(1, options.concurrency);
    this.#onBatch = options.onBatch;
  }

  /** Items waiting for a write to start. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Resolves with the item's result once its batch was written. */
  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#concurrency && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxItems);
      this.#inFlight += 1;
      void this.#run(batch);
    }
  }

  async #run(batch: Pending<I, R>[]): Promise<void> {
    const started = performance.now();
    let ok = false;
    try {
      const results = await this.#write(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`batch write answered ${results.length} results for ${batch.length} items`);
      ok = true;
      batch.forEach((p, i) => p.resolve(results[i] as R));
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.stats.batches += 1;
      this.stats.items += batch.length;
      this.stats.largest = Math.max(this.stats.largest, batch.length);
      this.#onBatch?.(batch.length, performance.now() - started, ok);
      this.#inFlight -= 1;
      this.#pump();
    }
  }
}
