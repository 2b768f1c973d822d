// The floor: the least a Bun receiver can do per C-STORE, to tell the runtime's cost from ours.
//
//   bun bench/floor-receiver.ts --port N --root DIR [--duties] [--fsync]
//
// Accepts every presentation context with the first proposed transfer syntax, and per C-STORE-RQ
// writes the data set's PDVs to a temp file as they arrive (one write each, on the event loop), renames
// it to ROOT/<SOP Instance UID of the command>.dcm and answers Success. Nothing else: no attribute scan,
// no validation, no path template, no quarantine, no backpressure, no limits. Not a product.
//
// --duties adds the cheapest form of what docs/storage.md makes every instance cost beyond its bytes: a Part-10
// meta header in front of the data set, one outbox record (JSON, one append) and one log line (one
// append). --fsync adds its durability order: the data synced before the rename, then the directory and the
// outbox synced before the answer (both at once, from the thread pool).
//
// bench/run.ts drives it with DCMTK storescu like the other receivers (receivers floor, floor-duties,
// floor-duties-fsync): the rows show how far the runtime's own cost per instance (socket reads, copies,
// system calls) leaves DCMTK's numbers reachable on this machine.

import { closeSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { buildFileMeta } from "../src/dicom/part10.ts";
import { CommandField, type CommandSet, decodeCommandSet } from "../src/dimse/command.ts";
import { Status } from "../src/dimse/status.ts";
import { decodePdu, encodePdu } from "../src/net/pdu/codec.ts";
import { encodePDataPdvHeader } from "../src/net/pdu/pdata.ts";
import { emptyUserInformation, PduType } from "../src/net/pdu/types.ts";
import { response } from "../src/scp/services.ts";
import { durable as platform } from "../src/util/durable.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const port = Number(arg("--port") ?? 11112);
const root = arg("--root") ?? "floor-data";
const duties = process.argv.includes("--duties");
const durable = process.argv.includes("--fsync");
mkdirSync(root, { recursive: true });
/** The root's syncs: its descriptor stays open, as for ours. */
const rootSyncs = platform.directories();
const outboxFd = duties ? openSync(join(root, "outbox.jsonl"), "a") : -1;
const logFd = duties ? openSync(join(root, "floor.log"), "a") : -1;
let tempSeq = 0;

interface Incoming {
  fd: number;
  temp: string;
  size: number;
  contextId: number;
  cmd: CommandSet;
  sopClass: string;
  sopInstance: string;
}

/** Per connection: PDU and PDV framing as bytes arrive; the command buffered, the data set streamed. */
class Conn {
  private header = new Uint8Array(6);
  private headerFill = 0;
  private pduType = 0;
  private pduLeft = 0;
  private whole: Uint8Array[] = [];
  private pdvHeader = new Uint8Array(6);
  private pdvHeaderFill = 0;
  private pdvLeft = 0;
  private pdvIsCommand = false;
  private pdvIsLast = false;
  private pdvContext = 0;
  private command: Uint8Array[] = [];
  private incoming: Incoming | null = null;
  private callingAe = "";
  private transferSyntaxes = new Map<number, string>();
  private abstractSyntaxes = new Map<number, string>();

  constructor(private readonly send: (b: Uint8Array) => void) {}

  data(d: Uint8Array): void {
    let o = 0;
    while (o < d.length) {
      if (this.pduLeft === 0) {
        while (this.headerFill < 6 && o < d.length) this.header[this.headerFill++] = d[o++] as number;
        if (this.headerFill < 6) return;
        this.headerFill = 0;
        const h = this.header;
        this.pduType = h[0] as number;
        this.pduLeft =
          (((h[2] as number) << 24) |
            ((h[3] as number) << 16) |
            ((h[4] as number) << 8) |
            (h[5] as number)) >>>
          0;
        this.pdvHeaderFill = 0;
        this.pdvLeft = 0;
        if (this.pduType !== PduType.PData) this.whole = [h.slice()];
        if (this.pduLeft === 0) this.pduEnd();
        continue;
      }
      if (this.pduType !== PduType.PData) {
        const n = Math.min(this.pduLeft, d.length - o);
        this.whole.push(d.subarray(o, o + n));
        o += n;
        this.pduLeft -= n;
        if (this.pduLeft === 0) this.pduEnd();
        continue;
      }
      if (this.pdvLeft === 0) {
        while (this.pdvHeaderFill < 6 && o < d.length) {
          this.pdvHeader[this.pdvHeaderFill++] = d[o++] as number;
          this.pduLeft--;
        }
        if (this.pdvHeaderFill < 6) return;
        this.pdvHeaderFill = 0;
        const h = this.pdvHeader;
        this.pdvLeft =
          ((((h[0] as number) << 24) |
            ((h[1] as number) << 16) |
            ((h[2] as number) << 8) |
            (h[3] as number)) >>>
            0) -
          2;
        this.pdvContext = h[4] as number;
        this.pdvIsCommand = ((h[5] as number) & 1) === 1;
        this.pdvIsLast = ((h[5] as number) & 2) === 2;
        if (this.pdvLeft === 0) this.pdvEnd();
        continue;
      }
      const n = Math.min(this.pdvLeft, d.length - o);
      const piece = d.subarray(o, o + n);
      o += n;
      this.pdvLeft -= n;
      this.pduLeft -= n;
      if (this.pdvIsCommand) this.command.push(piece);
      else if (this.incoming) {
        writeSync(this.incoming.fd, piece, 0, n, this.incoming.size);
        this.incoming.size += n;
      }
      if (this.pdvLeft === 0) this.pdvEnd();
    }
  }

  private pdvEnd(): void {
    if (!this.pdvIsLast) return;
    if (this.pdvIsCommand) {
      const bytes = Buffer.concat(this.command);
      this.command = [];
      this.commandDone(decodeCommandSet(bytes));
    } else if (this.incoming) {
      const i = this.incoming;
      this.incoming = null;
      this.stored(i);
    }
  }

  private commandDone(cmd: CommandSet): void {
    if (cmd.commandField === CommandField.CEchoRq) {
      this.respond(this.pdvContext, cmd);
      return;
    }
    const temp = join(root, `.${process.pid}-${tempSeq++}.tmp`);
    const fd = openSync(temp, "w", 0o644);
    const i: Incoming = {
      fd,
      temp,
      size: 0,
      contextId: this.pdvContext,
      cmd,
      sopClass: cmd.affectedSopClassUid ?? "",
      sopInstance: cmd.affectedSopInstanceUid ?? "",
    };
    if (duties) {
      const meta = buildFileMeta({
        sopClassUid: i.sopClass,
        sopInstanceUid: i.sopInstance,
        transferSyntaxUid: this.transferSyntaxes.get(i.contextId) ?? "1.2.840.10008.1.2",
        sourceAeTitle: this.callingAe,
        sendingAeTitle: this.callingAe,
        receivingAeTitle: "FLOOR",
      });
      writeSync(fd, meta, 0, meta.length, 0);
      i.size = meta.length;
    }
    this.incoming = i;
  }

  private stored(i: Incoming): void {
    if (durable) platform.syncDataSync(i.fd);
    closeSync(i.fd);
    const path = join(root, `${i.sopInstance}.dcm`);
    renameSync(i.temp, path);
    if (duties) {
      // The record's fields; what would need the data set parsed is left empty.
      const record = JSON.stringify({
        schema_version: 1,
        trace_id: crypto.randomUUID(),
        worker_node_id: "floor",
        tenant_id: "default",
        patient_id: "",
        study_uid: "",
        series_uid: "",
        sop_uid: i.sopInstance,
        sop_class_uid: i.sopClass,
        file_path: path,
        file_size: i.size,
        sha256: null,
        transfer_syntax_uid: this.transferSyntaxes.get(i.contextId),
        target_ts: this.transferSyntaxes.get(i.contextId),
        transfer_status: "NoNeedTransfer",
        study_date: "",
        number_of_frames: 1,
        accession_number: null,
        study_uid_hash: "",
        series_uid_hash: "",
        source_ip: "127.0.0.1",
        source_ae: this.callingAe,
        called_ae: "FLOOR",
        created_time: new Date().toISOString(),
      });
      writeSync(outboxFd, `${record}\n`);
      writeSync(logFd, `${new Date().toISOString()} INFO stored sop=${i.sopInstance} size=${i.size}\n`);
    }
    if (!durable) {
      this.respond(i.contextId, i.cmd);
      return;
    }
    // The rename and the record made durable together, as ours does.
    const name = rootSyncs.sync(root);
    Promise.all(duties ? [name, platform.syncData(outboxFd)] : [name]).then(
      () => this.respond(i.contextId, i.cmd),
      (err: Error) => {
        console.error(`floor receiver: sync failed: ${err.message}`);
        process.exit(1);
      },
    );
  }

  /** Success for the request, built as our SCP builds it. */
  private respond(contextId: number, cmd: CommandSet): void {
    const rsp = response(cmd, this.abstractSyntaxes.get(contextId) ?? "", Status.Success);
    const head = encodePDataPdvHeader(contextId, true, true, rsp.length);
    this.send(Buffer.concat([head, rsp]));
  }

  private pduEnd(): void {
    if (this.pduType === PduType.AssociateRq) {
      const rq = decodePdu(Buffer.concat(this.whole));
      this.whole = [];
      if (rq.type !== PduType.AssociateRq) return;
      this.callingAe = rq.callingAeTitle;
      for (const pc of rq.presentationContexts) {
        this.transferSyntaxes.set(pc.id, pc.transferSyntaxes[0] ?? "");
        this.abstractSyntaxes.set(pc.id, pc.abstractSyntax);
      }
      this.send(
        encodePdu({
          type: PduType.AssociateAc,
          protocolVersion: 1,
          calledAeTitle: rq.calledAeTitle,
          callingAeTitle: rq.callingAeTitle,
          applicationContext: rq.applicationContext,
          presentationContexts: rq.presentationContexts.map((pc) => ({
            id: pc.id,
            result: 0,
            transferSyntax: pc.transferSyntaxes[0] ?? "",
          })),
          userInformation: {
            ...emptyUserInformation(),
            maxLength: 131072,
            implementationClassUid: "1.2.826.0.1.3680043.10.1234.99",
            implementationVersionName: "FLOOR",
          },
        }),
      );
    } else if (this.pduType === PduType.ReleaseRq) {
      this.send(encodePdu({ type: PduType.ReleaseRp }));
    }
  }
}

Bun.listen<{ conn: Conn }>({
  hostname: "127.0.0.1",
  port,
  socket: {
    open(s) {
      s.setNoDelay(true);
      s.data = { conn: new Conn((b) => s.write(b)) };
    },
    data(s, d) {
      s.data.conn.data(d);
    },
    close() {},
    error() {},
  },
});
console.log(`floor receiver listening on ${port} (duties ${duties}, fsync ${durable})`);
