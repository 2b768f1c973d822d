// /healthz: what must hold for the SCP to do its job, each a check with a one-line detail: listening,
// every storage root writable with min_free_mb free, the license valid, the outbox not full. Failing
// checks make it answer 503 (for a load balancer or a supervisor); warnings name what needs someone
// before it fails.

import type { LicenseGate } from "../license/info.ts";
import { daysLeft } from "../license/info.ts";
import { drainAdvice } from "../outbox/fill.ts";
import type { OutboxService } from "../outbox/service.ts";
import { freeBytes, probeWritable } from "../store/preflight.ts";

export interface Check {
  ok: boolean;
  detail: string;
}

export interface Health {
  ok: boolean;
  checks: Record<string, Check>;
  failing: string[];
  /** Not failing yet, but needs someone (e.g. the outbox past 80 % with Kafka off); ok stays true. */
  warnings: string[];
}

export interface HealthDeps {
  /** The DICOM listener is up (and not stopping). */
  listening: () => boolean;
  /** Storage roots (storage.root and the tenants' own), checked for writability and free space. */
  roots: string[];
  minFreeMb: number;
  outbox: OutboxService | null;
  license: LicenseGate;
}

/** Every check, now. */
export async function checkHealth(deps: HealthDeps): Promise<Health> {
  const checks: Record<string, Check> = {};
  const listening = deps.listening();
  checks.listening = { ok: listening, detail: listening ? "accepting associations" : "not listening" };
  const writable = await Promise.all(
    deps.roots.map((r) =>
      probeWritable(r).then(
        () => null,
        (err: Error) => `${r}: ${err.message}`,
      ),
    ),
  );
  const notWritable = writable.filter((w) => w !== null);
  checks.storage_writable = {
    ok: notWritable.length === 0,
    detail: notWritable.length === 0 ? `${deps.roots.join(", ")} writable` : notWritable.join("; "),
  };
  const disk: string[] = [];
  let diskOk = true;
  for (const r of deps.roots) {
    try {
      const mb = (await freeBytes(r)) / 1024 / 1024;
      if (mb < deps.minFreeMb) diskOk = false;
      disk.push(`${r}: ${Math.floor(mb)} MB free (min_free_mb ${deps.minFreeMb})`);
    } catch (err) {
      diskOk = false;
      disk.push(`${r}: ${(err as Error).message}`);
    }
  }
  checks.disk = { ok: diskOk, detail: disk.join("; ") };
  const licenseProblem = deps.license.problem();
  const info = deps.license.info;
  checks.license = {
    ok: licenseProblem === null,
    detail:
      licenseProblem ??
      (info === null
        ? "unlicensed build (no vendor CA)"
        : `valid until ${info.notAfter.toISOString()} (${daysLeft(info)} days)`),
  };
  const svc = deps.outbox;
  const warnings: string[] = [];
  if (svc) {
    const outbox = svc.state;
    const pct = Math.floor(svc.fillRatio * 100);
    checks.outbox = {
      ok: !outbox.full,
      detail: outbox.full
        ? `full (${outbox.backlog} records): instances are refused; ${drainAdvice(svc.kafkaEnabled)}`
        : `${outbox.backlog} records waiting (${pct} % of outbox.max_mb)`,
    };
    const w = svc.warning;
    if (w !== null) warnings.push(w);
  }
  const failing = Object.entries(checks)
    .filter(([, c]) => !c.ok)
    .map(([k]) => k);
  return { ok: failing.length === 0, checks, failing, warnings };
}
