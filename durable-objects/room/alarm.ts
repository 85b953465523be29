/**
 * The room's one alarm, set for the earliest thing due: the next outbox copy
 * (after a failure or a restart) or the next token expiry. A send sets none
 * (an alarm per send woke every room 5 s after each message).
 */
export class AlarmClock {
  readonly #storage: Pick<DurableObjectStorage, "getAlarm" | "setAlarm">;
  readonly #due: (now: number) => (number | null)[];
  /** The alarm time as last set by this instance; undefined until read. */
  #alarmAt: number | null | undefined;

  constructor(storage: Pick<DurableObjectStorage, "getAlarm" | "setAlarm">, due: (now: number) => (number | null)[]) {
    this.#storage = storage;
    this.#due = due;
  }

  /** The alarm fired: nothing is set until {@link arm} runs again. */
  fired(): void {
    this.#alarmAt = null;
  }

  /** Sets the alarm for the earliest time due, unless one already covers it. */
  async arm(): Promise<void> {
    const now = Date.now();
    const candidates = this.#due(now).filter((t): t is number => t !== null);
    if (candidates.length === 0) return;
    const target = Math.min(...candidates);
    if (this.#alarmAt === undefined) {
      const stored = await this.#storage.getAlarm();
      // The alarm may have run while we waited (it sets null): keep what it set.
      if (this.#alarmAt === undefined) this.#alarmAt = stored;
    }
    // A cached time in the past has fired or is firing; never trust it to cover
    // `target` (it once left a room with no alarm and a stuck outbox, in F5).
    if (this.#alarmAt !== null && this.#alarmAt > now && this.#alarmAt <= target) return;
    this.#alarmAt = target;
    await this.#storage.setAlarm(target);
  }
}
