import { describe, expect, test } from "bun:test";
import {
  type Event,
  type Indication,
  type ProviderPort,
  type State,
  TRANSITIONS,
  transition,
} from "../../src/net/fsm.ts";

function recorder(): ProviderPort & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    startArtim: () => calls.push("startArtim"),
    stopArtim: () => calls.push("stopArtim"),
    closeTransport: () => calls.push("close"),
    sendAbort: (s) => calls.push(`abort:${s}`),
    indicate: (w: Indication) => calls.push(`indicate:${w}`),
    sendAssociateAc: () => calls.push("AC"),
    sendAssociateRj: () => calls.push("RJ"),
    sendPData: () => calls.push("PDATA"),
    sendReleaseRp: () => calls.push("RP"),
  };
}

const PDU_EVENTS: Event[] = ["Evt3", "Evt4", "Evt6", "Evt10", "Evt12", "Evt13", "Evt16", "Evt17", "Evt19"];

describe("PS3.8 Table 9-10, acceptor rows", () => {
  test("a normal association: connect, RQ, accept, data, release, close", () => {
    const p = recorder();
    let s: State = "Sta1";
    for (const [ev, expected] of [
      ["Evt5", "Sta2"],
      ["Evt6", "Sta3"],
      ["Evt7", "Sta6"],
      ["Evt10", "Sta6"],
      ["Evt9", "Sta6"],
      ["Evt12", "Sta8"],
      ["Evt9", "Sta8"],
      ["Evt14", "Sta13"],
      ["Evt17", "Sta1"],
    ] as const) {
      s = transition(s, ev, p).next;
      expect(s).toBe(expected);
    }
    expect(p.calls).toEqual([
      "startArtim",
      "stopArtim",
      "indicate:associate",
      "AC",
      "indicate:data",
      "PDATA",
      "indicate:release",
      "PDATA",
      "RP",
      "startArtim",
      "stopArtim",
      "indicate:closed",
    ]);
  });

  test("reject: AE-8 sends A-ASSOCIATE-RJ and waits for the close under ARTIM", () => {
    const p = recorder();
    const r = transition("Sta3", "Evt8", p);
    expect(r).toEqual({ next: "Sta13", action: "AE_8" });
    expect(p.calls).toEqual(["RJ", "startArtim"]);
    expect(transition("Sta13", "Evt18", p).next).toBe("Sta1");
  });

  test("ARTIM expiry while awaiting the A-ASSOCIATE-RQ closes the transport (AA-2)", () => {
    const p = recorder();
    expect(transition("Sta2", "Evt18", p)).toEqual({ next: "Sta1", action: "AA_2" });
    expect(p.calls).toContain("close");
  });

  test("every state handles every PDU event and a transport close", () => {
    for (const state of ["Sta2", "Sta3", "Sta6", "Sta8", "Sta13"] as State[]) {
      for (const ev of PDU_EVENTS) expect(TRANSITIONS[state][ev]).toBeDefined();
      expect(TRANSITIONS[state].Evt15).toBeDefined();
    }
  });

  test("an invalid PDU in an established association aborts with the provider source (AA-8)", () => {
    const p = recorder();
    expect(transition("Sta6", "Evt19", p)).toEqual({ next: "Sta13", action: "AA_8" });
    expect(p.calls).toEqual(["abort:provider", "indicate:abort", "startArtim"]);
  });

  test("an A-ABORT received closes at once (AA-3) and a PDU after release is ignored (AA-6)", () => {
    const p = recorder();
    expect(transition("Sta6", "Evt16", p).next).toBe("Sta1");
    expect(transition("Sta13", "Evt10", p)).toEqual({ next: "Sta13", action: "AA_6" });
  });

  test("an event missing from a row is handled as an invalid PDU there", () => {
    const p = recorder();
    expect(transition("Sta2", "Evt7", p).action).toBe("AA_1");
    expect(transition("Sta6", "Evt14", p).action).toBe("AA_8");
  });
});
