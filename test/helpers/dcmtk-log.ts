// Reading the DIMSE responses out of a DCMTK SCU's log.

/** One C-STORE-RSP as DCMTK logged it. */
export interface StoreResponse {
  messageId: number;
  sopInstanceUid: string;
  status: number;
  /** DCMTK's name for the status, e.g. "Success", "Refused: Out of resources". */
  statusText: string;
  /** Error Comment (0000,0902) from the status detail, when the peer sent one. */
  errorComment?: string;
}

/** DCMTK's short status names (DU_cstoreStatusString), for logs written with -v rather than -d. */
const STORE_STATUS_NAMES: Record<string, number> = {
  Success: 0x0000,
  "Refused: OutOfResources": 0xa700,
  "Refused: SOPClassNotSupported": 0x0122,
  "Error: DataSetDoesNotMatchSOPClass": 0xa900,
  "Error: CannotUnderstand": 0xc000,
  "Warning: CoersionOfDataElements": 0xb000,
  "Warning: CoercionOfDataElements": 0xb000,
  "Warning: DataSetDoesNotMatchSOPClass": 0xb007,
  "Warning: ElementsDiscarded": 0xb006,
};

function stripLevel(line: string): string {
  // DCMTK log lines look like "D: text" / "I: text" / "E: text".
  return /^[TDIWEF]: /.test(line) ? line.slice(3) : line;
}

/**
 * The C-STORE responses in a DCMTK SCU log (storescu or dcmsend). With -d (what our wrappers use) each
 * response is a block:
 *   D: ===================== INCOMING DIMSE MESSAGE ====================
 *   D: Message Type                  : C-STORE RSP
 *   D: Message ID Being Responded To : 1
 *   D: Affected SOP Instance UID     : 2.25.111
 *   D: DIMSE Status                  : 0xa700: Refused: Out of resources
 *   D: ======================= END DIMSE MESSAGE =======================
 * optionally followed by "Status Detail:" (dcmsend: "Response has status detail:") and a dump holding
 * (0000,0902) ErrorComment.
 * With -v only "I: Received Store Response (Refused: OutOfResources)" is printed: that is mapped back to a
 * code through DCMTK's names, which only distinguish classes of status (e.g. any A7xx is OutOfResources).
 */
export function parseStoreResponses(log: string): StoreResponse[] {
  const responses: StoreResponse[] = [];
  let block: Partial<StoreResponse> & { type?: string } = {};
  let inBlock = false;
  let sawDebugBlocks = false;
  let inDetail = false;
  for (const raw of log.split("\n")) {
    const line = stripLevel(raw.trimEnd());
    if (line.includes("INCOMING DIMSE MESSAGE")) {
      inBlock = true;
      inDetail = false;
      block = {};
      continue;
    }
    if (inBlock) {
      if (line.includes("END DIMSE MESSAGE")) {
        inBlock = false;
        if (block.type === "C-STORE RSP" && block.status !== undefined) {
          sawDebugBlocks = true;
          responses.push({
            messageId: block.messageId ?? -1,
            sopInstanceUid: block.sopInstanceUid ?? "",
            status: block.status,
            statusText: block.statusText ?? "",
          });
        }
        continue;
      }
      const m = /^([A-Za-z][A-Za-z .-]*?)\s*: (.*)$/.exec(line);
      if (!m) continue;
      const key = m[1] ?? "";
      const value = m[2] ?? "";
      if (key === "Message Type") block.type = value.trim();
      else if (key === "Message ID Being Responded To") block.messageId = Number.parseInt(value, 10);
      else if (key === "Affected SOP Instance UID") block.sopInstanceUid = value.trim();
      else if (key === "DIMSE Status") {
        const s = /^0x([0-9a-fA-F]{1,4})(?::\s*(.*))?/.exec(value.trim());
        if (s) {
          block.status = Number.parseInt(s[1] ?? "", 16);
          block.statusText = (s[2] ?? "").trim();
        }
      }
      continue;
    }
    if (line.startsWith("Status Detail") || line.startsWith("Response has status detail")) {
      inDetail = true;
      continue;
    }
    if (inDetail) {
      const c = /^\(0000,0902\) LO \[(.*)\]/.exec(line.trim());
      const last = responses[responses.length - 1];
      if (c && last) last.errorComment = c[1];
      if (/^(Sending|Received|Releasing|Aborting|Association)/.test(line)) inDetail = false;
    }
  }
  if (sawDebugBlocks) return responses;
  // Fallback: verbose (-v) logs.
  let id = 0;
  for (const raw of log.split("\n")) {
    const m = /Received (?:Store|C-STORE) Response \((.*)\)\s*$/.exec(stripLevel(raw.trimEnd()));
    if (!m) continue;
    const text = m[1] ?? "";
    const unknown = /Unknown Status: 0x([0-9a-fA-F]+)/.exec(text);
    const status = unknown ? Number.parseInt(unknown[1] ?? "", 16) : (STORE_STATUS_NAMES[text] ?? -1);
    responses.push({ messageId: ++id, sopInstanceUid: "", status, statusText: text });
  }
  return responses;
}
