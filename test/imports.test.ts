// The direction of the layers, enforced: a module may import from its own layer's folder and from any
// lower layer, never from a higher one, never from a peer in the same row, and the folders never form a
// cycle. The table is the map in docs/ARCHITECTURE.md; moving a wall means changing both.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const SRC = join(ROOT, "src");

/** Lowest first. Each row's entries are peers: none of them may import another. */
const LAYERS: string[][] = [
  ["util", "build-info"],
  ["telemetry"],
  ["dicom"],
  ["net/pdu"],
  ["net"],
  ["dimse"],
  ["config"],
  ["license", "tenancy", "scu"],
  ["pipeline"],
  ["store"],
  ["transcode", "outbox"],
  ["ops"],
  ["scp"],
  ["cli"],
  ["main"],
];

/** Log and metrics are used by every layer; they are the telemetry layer though they live in ops/. */
const TELEMETRY = new Set(["ops/log.ts", "ops/metrics.ts"]);

/** The unit a file belongs to: a row entry of LAYERS. */
function unitOf(file: string): string {
  const rel = relative(SRC, file).replaceAll("\\", "/");
  if (TELEMETRY.has(rel)) return "telemetry";
  if (rel === "main.ts") return "main";
  if (rel === "build-info.ts") return "build-info";
  if (rel.startsWith("net/pdu/")) return "net/pdu";
  const top = rel.split("/")[0] ?? rel;
  return top;
}

const rankOf = new Map<string, number>();
LAYERS.forEach((row, i) => {
  for (const unit of row) rankOf.set(unit, i);
});

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Relative imports and re-exports of a file (type-only ones too: a type is a dependency as well). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  const pattern =
    /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g;
  for (const m of text.matchAll(pattern)) {
    const spec = m[1] ?? m[2];
    if (spec !== undefined) found.push(resolve(dirname(file), spec));
  }
  return found;
}

const files = sourceFiles(SRC);
const edges = files.flatMap((from) =>
  importsOf(from)
    .filter((to) => to.startsWith(SRC) && to.endsWith(".ts"))
    .map((to) => ({ from, to, fromUnit: unitOf(from), toUnit: unitOf(to) })),
);

describe("import direction", () => {
  test("every source folder has a place in the table", () => {
    const missing = [...new Set(files.map(unitOf))].filter((u) => !rankOf.has(u));
    expect(missing).toEqual([]);
  });

  test("no import runs up the layers or across peers", () => {
    const bad = edges
      .filter((e) => e.fromUnit !== e.toUnit)
      .filter((e) => (rankOf.get(e.toUnit) ?? 99) >= (rankOf.get(e.fromUnit) ?? -1))
      .map((e) => `${relative(ROOT, e.from)} -> ${relative(ROOT, e.to)} (${e.fromUnit} -> ${e.toUnit})`);
    expect(bad).toEqual([]);
  });

  test("no cycle among files", () => {
    const graph = new Map<string, string[]>();
    for (const e of edges) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    const state = new Map<string, "open" | "done">();
    const cycles: string[] = [];
    const visit = (node: string, path: string[]): void => {
      state.set(node, "open");
      for (const next of graph.get(node) ?? []) {
        const s = state.get(next);
        if (s === "open") {
          const loop = [...path.slice(path.indexOf(next)), next];
          cycles.push(loop.map((f) => relative(SRC, f)).join(" -> "));
        } else if (s === undefined) visit(next, [...path, next]);
      }
      state.set(node, "done");
    };
    for (const f of files) if (!state.has(f)) visit(f, [f]);
    expect(cycles).toEqual([]);
  });

  test("the checker itself sees an upward import", () => {
    const netFile = join(SRC, "net", "x.ts");
    const scpFile = join(SRC, "scp", "y.ts");
    expect(rankOf.get(unitOf(scpFile)) ?? 0).toBeGreaterThan(rankOf.get(unitOf(netFile)) ?? 99);
    expect(unitOf(join(SRC, "ops", "log.ts"))).toBe("telemetry");
    expect(unitOf(join(SRC, "net", "pdu", "codec.ts"))).toBe("net/pdu");
  });
});
