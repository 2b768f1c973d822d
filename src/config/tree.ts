// The config as a plain tree before validation: the file deep-merged over the defaults, values read and
// set by path, and paths written the way messages name them. Merge rules: mappings merge key by key,
// everything else (lists included) replaces the default; a key whose value is empty (`scp:` with
// everything below commented out) keeps the default mapping.

/** A path into the tree: keys of mappings, indexes of lists. */
export type Path = readonly PropertyKey[];

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `over` deep-merged onto `base`: mappings merge, anything else replaces; null over a mapping keeps it. */
export function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (isPlainObject(base) && over === null) return base;
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
    return out;
  }
  return over;
}

export function getIn(data: unknown, path: Path): unknown {
  let cur = data;
  for (const seg of path) {
    if (Array.isArray(cur) && typeof seg === "number") cur = cur[seg];
    else if (isPlainObject(cur)) cur = cur[String(seg)];
    else return undefined;
  }
  return cur;
}

export function setIn(data: unknown, path: readonly string[], value: unknown): void {
  let cur = data;
  for (const seg of path.slice(0, -1)) {
    if (!isPlainObject(cur)) return;
    cur = cur[seg];
  }
  const last = path[path.length - 1];
  if (isPlainObject(cur) && last !== undefined) cur[last] = value;
}

/** `tenants[1].ae_titles[0]` */
export function dottedPath(path: Path): string {
  let s = "";
  for (const seg of path) {
    if (typeof seg === "number") s += `[${seg}]`;
    else s += s === "" ? String(seg) : `.${String(seg)}`;
  }
  return s;
}
