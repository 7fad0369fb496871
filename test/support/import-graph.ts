// The TypeScript import graph of the real tree, read with the compiler's own pre-processor (so comments and
// strings that look like imports are not imports), and the cycle finder the layering test applies to it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** Module → the modules it imports (both as repository-relative paths without extension, '/'-separated). */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

export interface ImportEdge {
  from: string;
  /** The specifier as written. */
  specifier: string;
  /** Resolved repository-relative module, or undefined for a package or node: built-in. */
  to: string | undefined;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function moduleId(root: string, file: string): string {
  return relative(root, file).split(sep).join('/').replace(/\.ts$/, '');
}

function resolveRelative(fromFile: string, specifier: string): string | undefined {
  const base = resolve(dirname(fromFile), specifier);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return undefined;
}

/** Every import, export-from, `import x = require()` and dynamic `import()` of one source text. */
export function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** The import edges of every .ts file under `folders` (repository-relative). */
export function importEdges(root: string, folders: readonly string[]): ImportEdge[] {
  return folders.flatMap((folder) =>
    tsFiles(join(root, folder)).flatMap((file) =>
      importSpecifiers(readFileSync(file, 'utf8')).map((specifier): ImportEdge => {
        const from = moduleId(root, file);
        if (!specifier.startsWith('.')) return { from, specifier, to: undefined };
        const target = resolveRelative(file, specifier);
        if (target === undefined) throw new Error(`${from}: cannot resolve import '${specifier}'`);
        return { from, specifier, to: moduleId(root, target) };
      }),
    ),
  );
}

export function graphOf(edges: readonly ImportEdge[]): ImportGraph {
  const graph = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (!graph.has(from)) graph.set(from, []);
    if (to !== undefined) graph.get(from)!.push(to);
  }
  return graph;
}

/**
 * Strongly connected components with more than one module, or one module importing itself (Tarjan's algorithm,
 * iterative so a deep graph cannot overflow the stack). Each cycle is sorted; the list is sorted by first member.
 */
export function findCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  const nodes = new Set<string>([...graph.keys(), ...[...graph.values()].flat()]);
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const targets = graph.get(frame.node) ?? [];
      if (frame.next < targets.length) {
        const target = targets[frame.next++]!;
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, next: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.node);
      const selfImport = component.length === 1 && targets.includes(frame.node);
      if (component.length > 1 || selfImport) cycles.push(component.sort());
    }
  }
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The folder of `src/` a module belongs to: `src/agent/config` → `agent`; a file directly in src → its name. */
export function srcFolder(module: string): string | undefined {
  const parts = module.split('/');
  if (parts[0] !== 'src') return undefined;
  return parts[1];
}
