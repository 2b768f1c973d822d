// A-RELEASE-RQ, A-RELEASE-RP and A-ABORT: src/net/pdu/release-abort.ts.

import { describe } from "bun:test";
import { AbortReason, PduType } from "../../../src/net/pdu/types.ts";
import * as arb from "./arbitraries.ts";
import { b, decoderErrorTests, knownVectorTests, roundTripTests } from "./vectors.ts";

describe("known vectors", () => {
  knownVectorTests([
    [
      "A-RELEASE-RQ",
      b([0x05, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]),
      { type: PduType.ReleaseRq },
    ],
    [
      "A-RELEASE-RP",
      b([0x06, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]),
      { type: PduType.ReleaseRp },
    ],
    [
      "A-ABORT",
      b([0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x06]),
      { type: PduType.Abort, source: 2, reason: 6 },
    ],
  ]);
});

describe("round trip decode(encode(x)) = x", () => {
  roundTripTests([
    ["A-RELEASE-RQ", arb.releaseRq],
    ["A-RELEASE-RP", arb.releaseRp],
    ["A-ABORT", arb.abort],
  ]);
});

describe("decoder errors", () => {
  const E = AbortReason;
  decoderErrorTests([
    ["A-RELEASE-RQ of length 5", b([0x05, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0]), E.InvalidPduParameterValue],
    ["A-ABORT of length 0", b([0x07, 0, 0, 0, 0, 0]), E.InvalidPduParameterValue],
  ]);
});
