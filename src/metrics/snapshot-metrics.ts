// Prometheus metrics whose values come from a snapshot taken at scrape time (native counters).
import { Counter, Gauge, type Registry } from 'prom-client';

/** A counter that mirrors a running total read from `read()` (0 when there is nothing to read). */
export function snapshotCounter<S>(registry: Registry, name: string, help: string, read: () => S | null | undefined, pick: (s: S) => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const s = read();
      this.reset();
      if (s) this.inc(pick(s));
    },
  });
}

export function snapshotGauge<S>(registry: Registry, name: string, help: string, read: () => S | null | undefined, pick: (s: S) => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      const s = read();
      this.set(s ? pick(s) : 0);
    },
  });
}

/** A counter with one label whose values are all listed up front, so every series exists from the start. */
export function labelledSnapshotCounter<S>(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  values: readonly string[],
  read: () => S | null | undefined,
  pick: (s: S, value: string) => number,
): Counter<string> {
  return new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      const s = read();
      this.reset();
      for (const value of values) this.inc({ [label]: value }, s ? pick(s, value) : 0);
    },
  });
}
