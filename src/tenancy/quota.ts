// Per-tenant storage quota (tenants[].storage.max_gb). Cheap accounting: the tenant's tree is measured
// once in the background at start, then every stored instance adds its size, and a transcode that
// replaces a stored file adds the difference (src/transcode/service.ts); nothing walks the tree per
// instance. Files replaced or removed by others are not subtracted: the count errs on the full side
// (refusing early, never filling past the quota by much), and a restart measures afresh.

import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { walkFiles } from "../util/tree.ts";

/** The directory a tenant's instances land below: root, or root/<id> when the path starts with {tenant}. */
export function quotaDir(root: string, template: string, tenantId: string): string {
  const first = template.split(/[/\\]/)[0];
  return first === "{tenant}" ? join(root, tenantId) : root;
}

export class Quota {
  /** Bytes counted so far. */
  used = 0;
  private measured = false;

  constructor(
    readonly limitBytes: number,
    readonly dir: string,
  ) {}

  get exceeded(): boolean {
    return this.used >= this.limitBytes;
  }

  /** A file of `bytes` was stored in this tenant's tree; negative when a replacement is smaller. */
  add(bytes: number): void {
    this.used += bytes;
  }

  get ready(): boolean {
    return this.measured;
  }

  /** Walk the tree once; instances stored meanwhile stay counted (possibly twice: on the safe side). */
  async measure(): Promise<number> {
    const before = this.used;
    let total = 0;
    await walkFiles(this.dir, async (p, e) => {
      if (!e.isFile()) return;
      try {
        total += (await fsp.stat(p)).size;
      } catch (err) {
        // Removed meanwhile (e.g. a temp file renamed or discarded): it no longer counts.
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    });
    this.used = total + (this.used - before);
    this.measured = true;
    return this.used;
  }
}
