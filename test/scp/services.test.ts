import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig } from "../../src/config/defaults.ts";
import {
  CommandField,
  decodeCommandSet,
  encodeCommandSet,
  NO_DATA_SET,
  Tag,
} from "../../src/dimse/command.ts";
import { DimseServices } from "../../src/scp/services.ts";
import { Storage } from "../../src/store/storage.ts";
import type { AssociationContext } from "../../src/tenancy/context.ts";
import { TenantDirectory } from "../../src/tenancy/tenants.ts";
import { storePipeline } from "../helpers/pipeline.ts";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const EXPLICIT = "1.2.840.10008.1.2.1";

function setup(minFreeMb: number) {
  const dir = mkdtempSync(join(tmpdir(), "svc-"));
  const storage = new Storage({
    fsync: false,
    onDuplicate: "overwrite",
    minFreeMb,
    quarantineDir: join(dir, "q"),
  });
  const config = defaultConfig();
  config.storage.root = dir;
  const tenant = new TenantDirectory(config).tenants[0];
  if (!tenant) throw new Error("no tenant");
  const ctx: AssociationContext = {
    id: "T1",
    tenant,
    callingAe: "SCU",
    calledAe: "STORESCP",
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  };
  return { storage, ctx, services: new DimseServices(storePipeline(storage)), dir };
}

const stats = () => ({ instances: 0, failures: 0, bytes: 0 });

describe("DIMSE services", () => {
  test("C-STORE while free disk is below min_free_mb: A700 with an Error Comment, the data set discarded", async () => {
    const { storage, ctx, services } = setup(1_000_000_000);
    await storage.hasFreeSpace(ctx.tenant.storageRoot);
    expect(storage.freeSpaceOk).toBe(false);
    const cmd = decodeCommandSet(
      encodeCommandSet([
        [Tag.AffectedSopClassUid, CT],
        [Tag.CommandField, CommandField.CStoreRq],
        [Tag.MessageId, 9],
        [Tag.CommandDataSetType, 0],
        [Tag.AffectedSopInstanceUid, "1.2.3"],
      ]),
    );
    const op = services.begin(cmd, ctx, EXPLICIT, CT, stats());
    op.data?.write(new Uint8Array(1000));
    const rsp = decodeCommandSet((await op.complete()) ?? new Uint8Array());
    expect(rsp.status).toBe(0xa700);
    expect(rsp.commandField).toBe(CommandField.CStoreRsp);
    expect(rsp.number(Tag.MessageIdBeingRespondedTo)).toBe(9);
    expect(rsp.affectedSopInstanceUid).toBe("1.2.3");
    expect(rsp.string(Tag.ErrorComment)).toMatch(/min_free_mb/);
  });

  test("an unsupported command is answered 0211 with its response command field", async () => {
    const { ctx, services } = setup(1);
    const cmd = decodeCommandSet(
      encodeCommandSet([
        [Tag.AffectedSopClassUid, CT],
        [Tag.CommandField, CommandField.CFindRq],
        [Tag.MessageId, 3],
        [Tag.CommandDataSetType, 0],
      ]),
    );
    const op = services.begin(cmd, ctx, EXPLICIT, CT, stats());
    const rsp = decodeCommandSet((await op.complete()) ?? new Uint8Array());
    expect(rsp.status).toBe(0x0211);
    expect(rsp.commandField).toBe(CommandField.CFindRsp);
  });

  test("C-ECHO: 0000 with every required field; on a storage context it is refused", async () => {
    const { ctx, services } = setup(1);
    const echo = decodeCommandSet(
      encodeCommandSet([
        [Tag.AffectedSopClassUid, "1.2.840.10008.1.1"],
        [Tag.CommandField, CommandField.CEchoRq],
        [Tag.MessageId, 5],
        [Tag.CommandDataSetType, NO_DATA_SET],
      ]),
    );
    const ok = decodeCommandSet(
      (await services.begin(echo, ctx, EXPLICIT, "1.2.840.10008.1.1", stats()).complete()) ??
        new Uint8Array(),
    );
    expect([
      ok.status,
      ok.commandField,
      ok.number(Tag.MessageIdBeingRespondedTo),
      ok.affectedSopClassUid,
    ]).toEqual([0, CommandField.CEchoRsp, 5, "1.2.840.10008.1.1"]);
    expect(ok.hasDataSet).toBe(false);
    const refused = decodeCommandSet(
      (await services.begin(echo, ctx, EXPLICIT, CT, stats()).complete()) ?? new Uint8Array(),
    );
    expect(refused.status).toBe(0x0118);
  });
});
