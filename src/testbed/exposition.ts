// Samples of one metric in a Prometheus text exposition, as the testbed's checks and diagnoses read them: every line
// of the family `name` (`name{…} value` or `name value`), or of one labelled series when `name` carries its labels.

export interface ExpositionSample {
  line: string;
  value: number;
}

export function metricSamples(exposition: string, name: string): ExpositionSample[] {
  return exposition.split('\n').flatMap((line) => {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) return [];
    return [{ line, value: Number(line.trim().split(/\s+/).pop()) }];
  });
}

/** The sum over the family's series (0 when the exposition has none). */
export function metricSum(exposition: string, name: string): number {
  return metricSamples(exposition, name).reduce((sum, s) => sum + s.value, 0);
}
