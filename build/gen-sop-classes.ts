/**
 * Generates src/dicom/sop-classes.ts: the registry of every Storage SOP Class of the DICOM
 * standard (retired ones included, flagged) plus the Verification SOP Class.
 *
 * Usage:
 *   npx bun build/gen-sop-classes.ts SOURCE [--out FILE] [--check]
 *
 * SOURCE is a machine-readable copy of the DICOM UID registry (PS3.6 Annex A, Table A-1), one of:
 *   - pydicom's `_uid_dict.py` (or an excerpt of it, e.g. build/sources/pydicom_uid_dict_sop_classes.py);
 *   - the standard's own DocBook `part06.xml` (Table A-1 rows are read; other tables are ignored).
 *
 * --check regenerates in memory and exits 1 if FILE (default src/dicom/sop-classes.ts) differs.
 *
 * Which SOP Classes count as "Storage": every SOP Class whose name, once the qualifiers
 * " SOP Class", " - Trial", " - For Presentation" and " - For Processing" are removed, ends in
 * " Storage". That covers PS3.4 Table B.5-1 and the C-STORE-based siblings with their own service
 * class (Hanging Protocol, Color Palette, Implant Templates, Defined/Performed Procedure Protocols,
 * Protocol Approval, Inventory). Storage Commitment / Storage Management classes do not end in
 * "Storage"; Media Storage Directory Storage (the DICOMDIR, PS3.4 Annex I media-only) is excluded
 * explicitly as it is never sent over the network.
 */

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { relative, resolve } from "node:path";

export interface UidRow {
  uid: string;
  name: string;
  type: string;
  keyword: string;
  retired: boolean;
}

export interface GeneratedEntry {
  uid: string;
  name: string;
  keyword: string;
  retired: boolean;
}

export const VERIFICATION_UID = "1.2.840.10008.1.1";

/** SOP Classes that end in "Storage" but are not network Storage SOP Classes. */
const EXCLUDED_UIDS: ReadonlyMap<string, string> = new Map([
  [
    "1.2.840.10008.1.3.10",
    "Media Storage Directory Storage: DICOMDIR, media interchange only (PS3.4 Annex I)",
  ],
]);

const UID_RE = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && UID_RE.test(uid);
}

// ---------------------------------------------------------------------------------------------
// pydicom _uid_dict.py
// ---------------------------------------------------------------------------------------------

const PY_STR = String.raw`(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")`;
const PY_ROW_RE = new RegExp(
  String.raw`^\s*(${PY_STR})\s*:\s*\(\s*(${PY_STR})\s*,\s*(${PY_STR})\s*,\s*(${PY_STR})\s*,\s*(${PY_STR})\s*,\s*(${PY_STR})\s*\)\s*,?\s*(?:#.*)?$`,
);

function unquotePy(literal: string): string {
  const body = literal.slice(1, -1);
  return body.replace(/\\(.)/g, (_m, c: string) => {
    switch (c) {
      case "n":
        return "\n";
      case "t":
        return "\t";
      default:
        return c;
    }
  });
}

export function parsePydicomUidDict(text: string): UidRow[] {
  const rows: UidRow[] = [];
  for (const line of text.split("\n")) {
    const m = PY_ROW_RE.exec(line);
    if (!m) continue;
    const [uid, name, type, _info, retired, keyword] = m.slice(1, 7).map((s) => unquotePy(s ?? "''"));
    rows.push({
      uid: uid ?? "",
      name: name ?? "",
      type: type ?? "",
      keyword: keyword ?? "",
      retired: retired === "Retired",
    });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// DICOM PS3.6 DocBook XML (part06.xml), Table A-1
// ---------------------------------------------------------------------------------------------

function xmlText(fragment: string): string {
  return fragment
    .replace(/<[^>]*>/g, "")
    .replace(/&#x([0-9a-fA-F]+);/g, (_m, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_m, d: string) => String.fromCodePoint(Number.parseInt(d, 10)))
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/[\u200b\u00ad]/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

export function parsePart06Xml(text: string): UidRow[] {
  // Table A-1 is the table whose xml:id is "table_A-1" (title "UID Values").
  const start = text.search(/<table[^>]*xml:id="table_A-1"/);
  if (start < 0) throw new Error('part06.xml: table xml:id="table_A-1" not found');
  const end = text.indexOf("</table>", start);
  const table = text.slice(start, end < 0 ? undefined : end);
  const body = table.slice(Math.max(0, table.indexOf("<tbody")));
  const rows: UidRow[] = [];
  for (const tr of body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)) {
    const cells = [...(tr[1] ?? "").matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => xmlText(c[1] ?? ""));
    if (cells.length < 4) continue;
    const [uid = "", rawName = "", keyword = "", type = ""] = cells;
    const retired = /\(Retired\)\s*$/.test(rawName);
    const name = rawName.replace(/\s*\(Retired\)\s*$/, "");
    rows.push({ uid, name, type, keyword, retired });
  }
  if (rows.length === 0) throw new Error("part06.xml: no rows found in Table A-1");
  return rows;
}

export function parseSource(text: string): UidRow[] {
  return /<book[\s>]/.test(text) && text.includes("table_A-1")
    ? parsePart06Xml(text)
    : parsePydicomUidDict(text);
}

// ---------------------------------------------------------------------------------------------
// Selection
// ---------------------------------------------------------------------------------------------

const QUALIFIERS = [/ SOP Class$/, / - Trial$/, / - For Presentation$/, / - For Processing$/];

function baseName(name: string): string {
  let n = name.trim();
  for (let changed = true; changed; ) {
    changed = false;
    for (const q of QUALIFIERS) {
      const next = n.replace(q, "");
      if (next !== n) {
        n = next;
        changed = true;
      }
    }
  }
  return n;
}

export function isStorageRow(row: UidRow): boolean {
  if (row.type !== "SOP Class" || row.name === "") return false;
  if (EXCLUDED_UIDS.has(row.uid)) return false;
  const base = baseName(row.name);
  if (/^Storage (Commitment|Management)\b/.test(base)) return false;
  return base.endsWith(" Storage");
}

function compareUids(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return pa.length - pb.length;
}

export interface Selection {
  storage: GeneratedEntry[];
  verification: GeneratedEntry;
}

export function select(rows: readonly UidRow[]): Selection {
  const storage: GeneratedEntry[] = [];
  let verification: GeneratedEntry | undefined;
  const seenUid = new Set<string>();
  const seenKeyword = new Set<string>();
  for (const row of rows) {
    if (row.type === "SOP Class" && row.uid === VERIFICATION_UID) {
      verification = { uid: row.uid, name: row.name, keyword: row.keyword, retired: row.retired };
      continue;
    }
    if (!isStorageRow(row)) continue;
    if (!isValidUid(row.uid)) throw new Error(`invalid UID ${JSON.stringify(row.uid)} (${row.name})`);
    if (row.keyword === "") throw new Error(`missing keyword for ${row.uid} (${row.name})`);
    if (seenUid.has(row.uid)) throw new Error(`duplicate UID ${row.uid}`);
    if (seenKeyword.has(row.keyword)) throw new Error(`duplicate keyword ${row.keyword}`);
    seenUid.add(row.uid);
    seenKeyword.add(row.keyword);
    storage.push({ uid: row.uid, name: row.name, keyword: row.keyword, retired: row.retired });
  }
  if (!verification) throw new Error(`Verification SOP Class ${VERIFICATION_UID} not found in source`);
  storage.sort((a, b) => compareUids(a.uid, b.uid));
  return { storage, verification };
}

// ---------------------------------------------------------------------------------------------
// Emission (already in the project's biome format: running biome on the output is a no-op)
// ---------------------------------------------------------------------------------------------

/** First comment lines of the source (its provenance header), if any. */
function provenance(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(?:#|<!--)\s?(.*?)\s*(?:-->)?$/.exec(line);
    if (!m) break;
    out.push(m[1] ?? "");
  }
  return out;
}

export function generate(sourceText: string, sourceLabel: string): string {
  const { storage, verification } = select(parseSource(sourceText));
  const sha256 = createHash("sha256").update(sourceText).digest("hex");
  const retired = storage.filter((e) => e.retired).length;
  const lines: string[] = [];
  lines.push(`// generated by build/gen-sop-classes.ts from ${sourceLabel}, do not edit`);
  lines.push(`// regenerate: npx bun build/gen-sop-classes.ts ${sourceLabel}`);
  lines.push(`// source sha256: ${sha256}`);
  for (const p of provenance(sourceText)) lines.push(p === "" ? "//" : `// > ${p}`);
  lines.push(`// ${storage.length} Storage SOP Classes (${retired} retired) + Verification.`);
  lines.push("");
  lines.push("export interface SopClassInfo {");
  lines.push("  readonly uid: string;");
  lines.push("  readonly name: string;");
  lines.push("  readonly keyword: string;");
  lines.push("  readonly retired: boolean;");
  lines.push("}");
  lines.push("");
  lines.push(`/** Verification SOP Class (${verification.name}), used by C-ECHO. */`);
  lines.push(`export const VERIFICATION_SOP_CLASS = ${JSON.stringify(verification.uid)};`);
  lines.push("");
  lines.push(
    "/** Every Storage SOP Class of the DICOM standard, retired ones included (flagged), in UID order. */",
  );
  lines.push("export const STORAGE_SOP_CLASSES: readonly SopClassInfo[] = Object.freeze([");
  for (const e of storage) {
    lines.push("  {");
    lines.push(`    uid: ${JSON.stringify(e.uid)},`);
    lines.push(`    name: ${JSON.stringify(e.name)},`);
    lines.push(`    keyword: ${JSON.stringify(e.keyword)},`);
    lines.push(`    retired: ${e.retired},`);
    lines.push("  },");
  }
  lines.push("]);");
  lines.push("");
  lines.push("const STORAGE_UIDS: ReadonlySet<string> = new Set(STORAGE_SOP_CLASSES.map((c) => c.uid));");
  lines.push("");
  lines.push("const NAMES: ReadonlyMap<string, string> = new Map([");
  lines.push(`  [VERIFICATION_SOP_CLASS, ${JSON.stringify(verification.name)}],`);
  lines.push("  ...STORAGE_SOP_CLASSES.map((c): [string, string] => [c.uid, c.name]),");
  lines.push("]);");
  lines.push("");
  lines.push("/** True if `uid` is a standard Storage SOP Class (retired ones included). O(1). */");
  lines.push("export function isStorageSopClass(uid: string): boolean {");
  lines.push("  return STORAGE_UIDS.has(uid);");
  lines.push("}");
  lines.push("");
  lines.push(
    "/** Name of a standard Storage SOP Class or of the Verification SOP Class; undefined otherwise. */",
  );
  lines.push("export function sopClassName(uid: string): string | undefined {");
  lines.push("  return NAMES.get(uid);");
  lines.push("}");
  lines.push("");
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

function main(argv: readonly string[]): number {
  const args = [...argv];
  let out = "src/dicom/sop-classes.ts";
  let check = false;
  let source: string | undefined;
  while (args.length > 0) {
    const a = args.shift();
    if (a === "--check") check = true;
    else if (a === "--out") out = args.shift() ?? out;
    else if (a !== undefined && !a.startsWith("--") && source === undefined) source = a;
    else {
      console.error(`unexpected argument: ${a}`);
      return 2;
    }
  }
  if (source === undefined) {
    console.error("usage: bun build/gen-sop-classes.ts SOURCE [--out FILE] [--check]");
    return 2;
  }
  const label = relative(process.cwd(), resolve(source)).split("\\").join("/");
  const text = generate(readFileSync(source, "utf8"), label);
  if (check) {
    let current = "";
    try {
      current = readFileSync(out, "utf8");
    } catch {
      current = "";
    }
    if (current !== text) {
      console.error(`${out} is out of date; run: npx bun build/gen-sop-classes.ts ${label}`);
      return 1;
    }
    console.log(`${out} is up to date`);
    return 0;
  }
  writeFileSync(out, text);
  const count = (text.match(/^ {4}uid: /gm) ?? []).length;
  console.log(`wrote ${out}: ${count} Storage SOP Classes + Verification`);
  return 0;
}

if (import.meta.main) process.exit(main(process.argv.slice(2)));
