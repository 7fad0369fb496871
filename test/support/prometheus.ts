/** Parses Prometheus text exposition into `name{labels}` → value (labels as written by prom-client). */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

export function metric(values: Map<string, number>, key: string): number {
  const value = values.get(key);
  if (value === undefined) throw new Error(`metric ${key} missing`);
  return value;
}
