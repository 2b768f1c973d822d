// YAML with positions: the document parsed, and for any path of the config the line and column an issue
// there is reported at (the value, its key, or the mapping that lacks it). A path that leaves the file
// (the value came from the defaults) is reported at the deepest node that exists. A document converted
// from the Rust original's JSON is located at the original's keys (withOrigins).

import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { ConfigError } from "./error.ts";
import { dottedPath, type Path } from "./tree.ts";

export interface LocatedDoc {
  data: unknown;
  contents: unknown;
  posOf(node: unknown): { line: number; col: number };
  /** The position for an issue at `path`; see locate(). */
  locate(path: Path, kind: "value" | "key" | "parent"): { line: number; col: number };
  /** How a message names `path` when the document is not in our own keys (null: as it is). */
  rename?(path: Path): string | null;
}

export function parseYaml(file: string, text: string): LocatedDoc {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err !== undefined) {
    const { line, col } = lineCounter.linePos(err.pos[0]);
    const reason = err.message.split("\n")[0] ?? err.code;
    throw new ConfigError(`YAML: ${reason}`, file, line, col);
  }
  const posOf = (node: unknown): { line: number; col: number } => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lineCounter.linePos(range[0]) : { line: 1, col: 1 };
  };
  const deref = (n: unknown): unknown => (isAlias(n) ? n.resolve(doc) : n);

  /**
   * Walks `path` through the document. `value`: the node of the value at path (the key when the value
   * is empty); `key`: the key node of the last segment; `parent`: the mapping that holds the last
   * segment. When the path leaves the document (the value came from the defaults), the deepest node
   * that exists is used.
   */
  const locate = (path: Path, kind: "value" | "key" | "parent"): { line: number; col: number } => {
    const segs = kind === "parent" ? path.slice(0, -1) : path;
    let node: unknown = doc.contents;
    let keyNode: unknown = null;
    for (const seg of segs) {
      const cur = deref(node);
      let next: unknown;
      let nextKey: unknown = null;
      if (isMap(cur)) {
        const pair = cur.items.find((p) => (isScalar(p.key) ? String(p.key.value) : p.key) === String(seg));
        if (pair !== undefined) {
          next = pair.value;
          nextKey = pair.key;
        }
      } else if (isSeq(cur) && typeof seg === "number") {
        next = cur.items[seg];
        nextKey = next;
      }
      if (next === undefined && nextKey === null) return posOf(node);
      // An empty value (`key:`) has a null node or a null scalar with no width: point at the key.
      node = next === null || next === undefined || isEmptyScalar(next) ? nextKey : next;
      keyNode = nextKey;
    }
    return posOf(kind === "key" ? (keyNode ?? node) : node);
  };

  return { data: doc.toJS(), contents: doc.contents, posOf, locate };
}

function isEmptyScalar(n: unknown): boolean {
  if (!isScalar(n)) return false;
  const r = (n as Node).range;
  return n.value === null && (r == null || r[0] === r[1]);
}

/**
 * A converted document: positions of our keys are looked up at the original's keys they came from, and
 * messages name the original's key (ours in brackets).
 */
export function withOrigins(
  doc: LocatedDoc,
  origin: ReadonlyMap<string, readonly (string | number)[]>,
): LocatedDoc {
  const original = (path: Path): Path | null => {
    for (let n = path.length; n > 0; n--) {
      const from = origin.get(dottedPath(path.slice(0, n)));
      if (from !== undefined) return [...from, ...path.slice(n)];
    }
    return null;
  };
  return {
    ...doc,
    locate: (path, kind) => {
      const from = original(path);
      return from === null ? doc.locate(path, kind) : doc.locate(from, kind === "parent" ? "value" : kind);
    },
    rename: (path) => {
      const from = original(path);
      return from === null ? null : `${dottedPath(from)} (${dottedPath(path)})`;
    },
  };
}
