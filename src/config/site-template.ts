// Commented site.yaml files, all made from config/site.yaml (bundled into the program), so every key,
// its default and its explanation read the same in each: `storescp init` writes it with loopback-safe
// values, `storescp config convert` with the values of the Rust original's application.json, and the
// release build puts one beside the binaries. The yaml library keeps the comments of values it sets.

import { isMap, isScalar, parseDocument } from "yaml";
import SITE_YAML from "../../config/site.yaml" with { type: "text" };

type Tree = Record<string, unknown>;

const isObject = (v: unknown): v is Tree => typeof v === "object" && v !== null && !Array.isArray(v);

/** Lists this short are written on one line, as the template writes them. */
const FLOW_MAX = 4;

/**
 * config/site.yaml with `values` set (leaves of a config tree, e.g. { scp: { host: "127.0.0.1" } })
 * and `header` lines (without "# ") before its own opening comment.
 */
export function siteYaml(values: Tree, header: readonly string[] = []): string {
  const doc = parseDocument(SITE_YAML);
  const setLeaves = (tree: Tree, path: string[]): void => {
    for (const [k, v] of Object.entries(tree)) {
      const at = [...path, k];
      if (isObject(v) && isMap(doc.getIn(at, true))) setLeaves(v, at);
      else if (Array.isArray(v)) {
        const node = doc.createNode(v, { flow: v.length <= FLOW_MAX });
        const old = doc.getIn(at, true);
        if (isScalar(old) || (old !== null && typeof old === "object" && "comment" in old))
          node.comment = (old as { comment?: string | null }).comment ?? null;
        doc.setIn(at, node);
      } else doc.setIn(at, v);
    }
  };
  setLeaves(values, []);
  if (header.length > 0) {
    const own = doc.commentBefore ?? "";
    doc.commentBefore = `${header.map((l) => ` ${l}`).join("\n")}\n\n${own}`;
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** What `storescp init` writes: every key with its default, listening on this PC only. */
export function initSiteYaml(): string {
  return siteYaml({ scp: { host: "127.0.0.1" } }, [
    "A site.yaml to start from (what `storescp init` writes). Start with: storescp --config site.yaml",
    "scp.host is 127.0.0.1 (this PC only) to begin with: set 0.0.0.0 to take images from the network.",
  ]);
}
