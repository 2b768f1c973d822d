// DIMSE command sets (PS3.7 section 9.3 and Annex E): group 0000, always Implicit VR Little Endian,
// with the Command Group Length (0000,0000) first.

import { trimmedLatin1 } from "../util/bytes.ts";
import { DimseError, Status } from "./status.ts";

/** Command Field values, PS3.7 Annex E.1. */
export const CommandField = {
  CStoreRq: 0x0001,
  CStoreRsp: 0x8001,
  CGetRq: 0x0010,
  CGetRsp: 0x8010,
  CFindRq: 0x0020,
  CFindRsp: 0x8020,
  CMoveRq: 0x0021,
  CMoveRsp: 0x8021,
  CEchoRq: 0x0030,
  CEchoRsp: 0x8030,
  NEventReportRq: 0x0100,
  NGetRq: 0x0110,
  NSetRq: 0x0120,
  NActionRq: 0x0130,
  NCreateRq: 0x0140,
  NDeleteRq: 0x0150,
  CCancelRq: 0x0fff,
} as const;

/** Command Data Set Type (0000,0800): this value means "no data set follows", PS3.7 E.1. */
export const NO_DATA_SET = 0x0101;

/** Command elements we read or write (PS3.7 Table E.1-1). */
export const Tag = {
  CommandGroupLength: 0x00000000,
  AffectedSopClassUid: 0x00000002,
  RequestedSopClassUid: 0x00000003,
  CommandField: 0x00000100,
  MessageId: 0x00000110,
  MessageIdBeingRespondedTo: 0x00000120,
  MoveDestination: 0x00000600,
  Priority: 0x00000700,
  CommandDataSetType: 0x00000800,
  Status: 0x00000900,
  OffendingElement: 0x00000901,
  ErrorComment: 0x00000902,
  ErrorId: 0x00000903,
  AffectedSopInstanceUid: 0x00001000,
  RequestedSopInstanceUid: 0x00001001,
  MoveOriginatorApplicationEntityTitle: 0x00001030,
  MoveOriginatorMessageId: 0x00001031,
} as const;

type ValueKind = "UI" | "US" | "UL" | "AE" | "LO" | "AT";

const KIND: ReadonlyMap<number, ValueKind> = new Map<number, ValueKind>([
  [Tag.CommandGroupLength, "UL"],
  [Tag.AffectedSopClassUid, "UI"],
  [Tag.RequestedSopClassUid, "UI"],
  [Tag.CommandField, "US"],
  [Tag.MessageId, "US"],
  [Tag.MessageIdBeingRespondedTo, "US"],
  [Tag.MoveDestination, "AE"],
  [Tag.Priority, "US"],
  [Tag.CommandDataSetType, "US"],
  [Tag.Status, "US"],
  [Tag.OffendingElement, "AT"],
  [Tag.ErrorComment, "LO"],
  [Tag.ErrorId, "US"],
  [Tag.AffectedSopInstanceUid, "UI"],
  [Tag.RequestedSopInstanceUid, "UI"],
  [Tag.MoveOriginatorApplicationEntityTitle, "AE"],
  [Tag.MoveOriginatorMessageId, "US"],
]);

/** A decoded command set: numbers for US/UL, strings for text, raw bytes for the rest. */
export class CommandSet {
  readonly elements = new Map<number, number | string | Uint8Array>();

  get commandField(): number | undefined {
    return this.number(Tag.CommandField);
  }
  get messageId(): number | undefined {
    return this.number(Tag.MessageId);
  }
  get affectedSopClassUid(): string | undefined {
    return this.string(Tag.AffectedSopClassUid);
  }
  get affectedSopInstanceUid(): string | undefined {
    return this.string(Tag.AffectedSopInstanceUid);
  }
  get hasDataSet(): boolean {
    return this.number(Tag.CommandDataSetType) !== NO_DATA_SET;
  }
  get status(): number | undefined {
    return this.number(Tag.Status);
  }

  number(tag: number): number | undefined {
    const v = this.elements.get(tag);
    return typeof v === "number" ? v : undefined;
  }
  string(tag: number): string | undefined {
    const v = this.elements.get(tag);
    return typeof v === "string" ? v : undefined;
  }
  /** Raw value of an element we have no type for (e.g. the tenant tag of the Rust original's SCUs). */
  bytes(tag: number): Uint8Array | undefined {
    const v = this.elements.get(tag);
    return v instanceof Uint8Array ? v : undefined;
  }
}

/** Largest command set we accept: real ones are a few hundred bytes. */
export const MAX_COMMAND_SET_LENGTH = 64 * 1024;

/** Decode a command set; malformed input is a DimseError (the association is then aborted by the caller). */
export function decodeCommandSet(bytes: Uint8Array): CommandSet {
  if (bytes.length > MAX_COMMAND_SET_LENGTH) {
    throw new DimseError(Status.CannotUnderstand, `command set of ${bytes.length} bytes is too large`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cs = new CommandSet();
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 8 > bytes.length) throw new DimseError(Status.CannotUnderstand, "truncated command element");
    const group = view.getUint16(pos, true);
    const element = view.getUint16(pos + 2, true);
    const length = view.getUint32(pos + 4, true);
    pos += 8;
    if (length > bytes.length - pos) {
      throw new DimseError(Status.CannotUnderstand, "command element runs past the command set");
    }
    // Elements outside group 0000 are kept as raw bytes under their full tag: the Rust original's SCUs
    // put the tenant into (1211,1217) of the command set (tenant_tag).
    const tag = ((group << 16) | element) >>> 0;
    const value = bytes.subarray(pos, pos + length);
    pos += length;
    const kind = group === 0 ? KIND.get(tag) : undefined;
    if (kind === "US" && length === 2) cs.elements.set(tag, view.getUint16(pos - 2, true));
    else if (kind === "UL" && length === 4) cs.elements.set(tag, view.getUint32(pos - 4, true));
    else if (kind === "UI" || kind === "AE" || kind === "LO")
      cs.elements.set(tag, trimmedLatin1(value, 0, value.length, true));
    else cs.elements.set(tag, value);
  }
  return cs;
}

export type CommandValue = number | string;

/**
 * Encode a command set from (tag, value) pairs; adds the group length (of group 0000) and sorts by tag.
 * Tags outside group 0000 (tests: a tenant_tag) are written as text.
 */
export function encodeCommandSet(values: ReadonlyArray<readonly [number, CommandValue]>): Uint8Array {
  const sorted = [...values].sort((a, b) => a[0] - b[0]);
  // Sized first, then written once: a response is encoded per instance.
  const elements: Array<{
    tag: number;
    kind: string | undefined;
    value: CommandValue;
    text: string | null;
    length: number;
  }> = [];
  let total = 0;
  let groupLength = 0;
  for (const [tag, value] of sorted) {
    const kind = KIND.get(tag);
    let text: string | null = null;
    let length: number;
    if (kind === "US" || kind === "UL") {
      length = kind === "US" ? 2 : 4;
    } else {
      text = String(value);
      if (text.length % 2 === 1) text += kind === "UI" ? "\0" : " ";
      length = text.length;
    }
    elements.push({ tag, kind, value, text, length });
    total += 8 + length;
    if (tag >>> 16 === 0) groupLength += 8 + length;
  }
  const out = new Uint8Array(12 + total);
  const view = new DataView(out.buffer);
  view.setUint32(4, 4, true);
  view.setUint32(8, groupLength, true);
  let pos = 12;
  for (const { tag, kind, value, text, length } of elements) {
    view.setUint16(pos, tag >>> 16, true);
    view.setUint16(pos + 2, tag & 0xffff, true);
    view.setUint32(pos + 4, length, true);
    pos += 8;
    if (text !== null) {
      for (let j = 0; j < length; j++) out[pos + j] = text.charCodeAt(j) & 0xff;
    } else if (kind === "US") view.setUint16(pos, Number(value), true);
    else view.setUint32(pos, Number(value), true);
    pos += length;
  }
  return out;
}

/** Error Comment is LO: at most 64 characters, and no backslash or control characters. */
export function errorComment(text: string): string {
  let out = "";
  for (const ch of text) out += ch === "\\" || ch.charCodeAt(0) < 0x20 ? " " : ch;
  return out.slice(0, 64);
}
