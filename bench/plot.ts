// Renders a Vega-Lite spec to an SVG file with vega (both ESM-only, so loaded with a real dynamic import).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

type VegaModule = typeof import('vega');
// vega-lite's types resolve only under node16 module resolution; its one function used here is typed locally.
interface VegaLiteModule {
  compile(spec: unknown): { spec: Parameters<VegaModule['parse']>[0] };
}

// TypeScript compiles import() to require() under CommonJS; this keeps it a real dynamic import.
const importEsm = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

export async function writeSvg(path: string, spec: Record<string, unknown>): Promise<void> {
  const vega = await importEsm<VegaModule>('vega');
  const vegaLite = await importEsm<VegaLiteModule>('vega-lite');
  const compiled = vegaLite.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await view.toSVG());
  view.finalize();
}
