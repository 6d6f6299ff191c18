// The project's relative imports as a graph, read with TypeScript's own parser, and the cycles in
// it. Static imports count, type-only ones too (a type cycle still ties two files' changes
// together); dynamic import() and require() do not (they are how code defers a load on purpose).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/** file (relative to the root, with `/`) → the files it imports. */
export type ImportGraph = Map<string, string[]>;

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...tsFiles(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

function resolveRelative(fromFile: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(fromFile), spec);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (candidate.endsWith('.ts') && existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** The relative module specifiers a source file imports or re-exports statically. */
export function staticImports(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const specs: string[] = [];
  for (const stmt of source.statements) {
    let spec: ts.Expression | undefined;
    if (ts.isImportDeclaration(stmt)) spec = stmt.moduleSpecifier;
    else if (ts.isExportDeclaration(stmt)) spec = stmt.moduleSpecifier;
    else if (ts.isImportEqualsDeclaration(stmt) && ts.isExternalModuleReference(stmt.moduleReference)) spec = stmt.moduleReference.expression;
    if (spec && ts.isStringLiteral(spec) && spec.text.startsWith('.')) specs.push(spec.text);
  }
  return specs;
}

/**
 * The module specifiers a source file loads when it runs: static imports and re-exports, without
 * `import type`, `export type` and imports whose every binding is `type` (TypeScript erases them).
 */
export function runtimeImports(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const specs: string[] = [];
  for (const stmt of source.statements) {
    if (ts.isImportDeclaration(stmt) && ts.isStringLiteral(stmt.moduleSpecifier)) {
      const clause = stmt.importClause;
      if (clause?.isTypeOnly) continue;
      const named = clause?.namedBindings;
      const onlyTypes = clause !== undefined && clause.name === undefined && named !== undefined && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      if (!onlyTypes) specs.push(stmt.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(stmt) && stmt.moduleSpecifier && ts.isStringLiteral(stmt.moduleSpecifier)) {
      const named = stmt.exportClause;
      const onlyTypes = stmt.isTypeOnly || (named !== undefined && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly));
      if (!onlyTypes) specs.push(stmt.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(stmt) && !stmt.isTypeOnly && ts.isExternalModuleReference(stmt.moduleReference) && ts.isStringLiteral(stmt.moduleReference.expression)) {
      specs.push(stmt.moduleReference.expression.text);
    }
  }
  return specs;
}

/** A relative specifier of a file as the project file it names, or undefined (a package, JSON). */
export function resolveProjectImport(fromFile: string, spec: string): string | undefined {
  return spec.startsWith('.') ? resolveRelative(fromFile, spec) : undefined;
}

/** Every .ts file under the given folders of root, with the project files it imports. */
export function readImportGraph(root: string, folders: string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  const rel = (f: string): string => path.relative(root, f).split(path.sep).join('/');
  for (const folder of folders) {
    const dir = path.join(root, folder);
    if (!existsSync(dir)) continue;
    for (const file of tsFiles(dir)) {
      const targets = staticImports(file, readFileSync(file, 'utf8'))
        .map((spec) => resolveRelative(file, spec))
        .filter((f): f is string => f !== undefined)
        .map(rel);
      graph.set(rel(file), [...new Set(targets)].sort());
    }
  }
  return graph;
}

/**
 * One cycle per strongly connected component with more than one file (or a file importing
 * itself), each as the path `a → b → … → a`, found with Tarjan's algorithm. Deterministic:
 * files are visited in sorted order.
 */
export function findCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const edges = (n: string): string[] => graph.get(n) ?? [];

  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || edges(v).includes(v)) components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);

  // A concrete cycle inside each component: the shortest path back to its first file (BFS).
  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0];
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const v = queue.shift()!;
      for (const w of edges(v).filter((x) => members.has(x))) {
        if (w === start) {
          const cycle = [start];
          for (let at: string | undefined = v; at !== undefined && at !== start; at = previous.get(at)) cycle.splice(1, 0, at);
          return [...cycle, start];
        }
        if (!previous.has(w)) {
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    return [start, start];
  });
}
