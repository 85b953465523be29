import type { HeldLease } from "../../sql/queries.ts";

/** What the keeper tells a room after a renewal. */
export type LeaseEvent = "lost" | "wanted";

/**
 * Multi-process mode: every room lease this process holds, renewed together
 * in one statement per period (a third of LEASE_TTL) instead of a timer and
 * a query per room. Only rooms whose lease was lost, or that another process
 * asked for, hear about it. The set survives the object's eviction in its
 * storage (`save`/`load`), so that a restarted keeper goes on renewing.
 */
export class LeaseKeeper {
  readonly #held = new Map<string, number>();
  readonly #renew: (leases: HeldLease[]) => Promise<Map<string, { wanted: boolean }>>;
  readonly #tell: (roomId: string, epoch: number, event: LeaseEvent) => void;

  constructor(
    renew: (leases: HeldLease[]) => Promise<Map<string, { wanted: boolean }>>,
    tell: (roomId: string, epoch: number, event: LeaseEvent) => void,
    initial: readonly HeldLease[] = [],
  ) {
    this.#renew = renew;
    this.#tell = tell;
    for (const lease of initial) this.#held.set(lease.roomId, lease.epoch);
  }

  /** Leases being renewed. */
  get size(): number {
    return this.#held.size;
  }

  /** The epoch held for a room, if any. */
  epochOf(roomId: string): number | undefined {
    return this.#held.get(roomId);
  }

  /** Starts (or, with a newer epoch, goes on) renewing a room's lease. */
  hold(lease: HeldLease): void {
    this.#held.set(lease.roomId, lease.epoch);
  }

  /** Stops renewing a room's lease, if it is still the one with `epoch`. */
  drop(roomId: string, epoch: number): boolean {
    if (this.#held.get(roomId) !== epoch) return false;
    this.#held.delete(roomId);
    return true;
  }

  /** One renewal of every held lease; throws when PostgreSQL did not answer (the caller retries soon). */
  async tick(): Promise<{ renewed: number; lost: number; wanted: number }> {
    const leases = [...this.#held].map(([roomId, epoch]) => ({ roomId, epoch }));
    if (leases.length === 0) return { renewed: 0, lost: 0, wanted: 0 };
    const renewed = await this.#renew(leases);
    let lost = 0;
    let wanted = 0;
    for (const { roomId, epoch } of leases) {
      const answer = renewed.get(roomId);
      if (!answer) {
        // Claimed again meanwhile (a newer epoch) is not a loss of the new one.
        if (this.drop(roomId, epoch)) {
          lost += 1;
          this.#tell(roomId, epoch, "lost");
        }
      } else if (answer.wanted) {
        wanted += 1;
        this.#tell(roomId, epoch, "wanted");
      }
    }
    return { renewed: renewed.size, lost, wanted };
  }
}
