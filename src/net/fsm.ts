// The DICOM Upper Layer state machine of an association acceptor, as data: PS3.8 section 9.2,
// Table 9-10 (state transition table) with the actions of Tables 9-6 … 9-9.
// Only the rows an acceptor can reach are listed; an (event, state) pair with no entry is a protocol
// error handled like Evt19 in that state. Each action is a small function named as in the standard.

/** States, PS3.8 Table 9-1 (acceptor subset). */
export type State =
  | "Sta1" // Idle
  | "Sta2" // Transport connection open (awaiting A-ASSOCIATE-RQ PDU)
  | "Sta3" // Awaiting local A-ASSOCIATE response primitive
  | "Sta6" // Association established and ready for data transfer
  | "Sta8" // Awaiting local A-RELEASE response primitive
  | "Sta13"; // Awaiting transport connection close indication

/** Events, PS3.8 Table 9-2. */
export type Event =
  | "Evt3" // A-ASSOCIATE-AC PDU received
  | "Evt4" // A-ASSOCIATE-RJ PDU received
  | "Evt5" // Transport connection indication
  | "Evt6" // A-ASSOCIATE-RQ PDU received
  | "Evt7" // A-ASSOCIATE response primitive (accept)
  | "Evt8" // A-ASSOCIATE response primitive (reject)
  | "Evt9" // P-DATA request primitive
  | "Evt10" // P-DATA-TF PDU received
  | "Evt11" // A-RELEASE request primitive
  | "Evt12" // A-RELEASE-RQ PDU received
  | "Evt13" // A-RELEASE-RP PDU received
  | "Evt14" // A-RELEASE response primitive
  | "Evt15" // A-ABORT request primitive
  | "Evt16" // A-ABORT PDU received
  | "Evt17" // Transport connection closed indication
  | "Evt18" // ARTIM timer expired
  | "Evt19"; // Unrecognized or invalid PDU received

/** What an action may do to the connection; implemented by the association. */
export interface ProviderPort {
  startArtim(): void;
  stopArtim(): void;
  closeTransport(): void;
  /** Send an A-ABORT PDU; `reason` only matters with the service-provider source. */
  sendAbort(source: "user" | "provider"): void;
  /** Deliver an indication to the service user (negotiation, DIMSE). */
  indicate(what: Indication): void;
  sendAssociateAc(): void;
  sendAssociateRj(): void;
  sendPData(): void;
  sendReleaseRp(): void;
}

export type Indication =
  | "associate" // A-ASSOCIATE indication: decide accept or reject
  | "data" // P-DATA indication: deliver the PDVs of this PDU
  | "discard" // ignore this PDU (and its PDVs)
  | "release" // A-RELEASE indication: finish outstanding work, then respond
  | "abort" // A-ABORT / A-P-ABORT indication: the association is gone
  | "closed"; // transport closed

type Action = (p: ProviderPort) => State;

/** Association establishment related actions, PS3.8 Table 9-6. */
const AE_5: Action = (p) => {
  // Issue connection response primitive; start ARTIM timer.
  p.startArtim();
  return "Sta2";
};
const AE_6: Action = (p) => {
  // Stop ARTIM; issue A-ASSOCIATE indication. Acceptability of the RQ is decided by the user (Sta3),
  // which answers with Evt7 or Evt8.
  p.stopArtim();
  p.indicate("associate");
  return "Sta3";
};
const AE_7: Action = (p) => {
  p.sendAssociateAc();
  return "Sta6";
};
const AE_8: Action = (p) => {
  p.sendAssociateRj();
  p.startArtim();
  return "Sta13";
};

/** Data transfer related actions, PS3.8 Table 9-7. */
const DT_1: Action = (p) => {
  p.sendPData();
  return "Sta6";
};
const DT_2: Action = (p) => {
  p.indicate("data");
  return "Sta6";
};

/** Association release related actions, PS3.8 Table 9-8. */
const AR_2: Action = (p) => {
  p.indicate("release");
  return "Sta8";
};
const AR_4: Action = (p) => {
  p.sendReleaseRp();
  p.startArtim();
  return "Sta13";
};
const AR_5: Action = (p) => {
  p.stopArtim();
  p.indicate("closed");
  return "Sta1";
};
const AR_7: Action = (p) => {
  p.sendPData();
  return "Sta8";
};

/** Association abort related actions, PS3.8 Table 9-9. */
const AA_1: Action = (p) => {
  // Send A-ABORT PDU (service-user source), (re)start ARTIM.
  p.sendAbort("user");
  p.startArtim();
  p.indicate("abort");
  return "Sta13";
};
const AA_2: Action = (p) => {
  p.stopArtim();
  p.closeTransport();
  p.indicate("closed");
  return "Sta1";
};
const AA_3: Action = (p) => {
  // A-ABORT received: issue A-ABORT indication and close transport.
  p.indicate("abort");
  p.closeTransport();
  return "Sta1";
};
const AA_4: Action = (p) => {
  // Transport closed unexpectedly: A-P-ABORT indication.
  p.stopArtim();
  p.indicate("abort");
  return "Sta1";
};
const AA_5: Action = (p) => {
  p.stopArtim();
  p.indicate("closed");
  return "Sta1";
};
const AA_6: Action = (p) => {
  p.indicate("discard");
  return "Sta13";
};
const AA_7: Action = (p) => {
  p.sendAbort("provider");
  p.indicate("discard");
  return "Sta13";
};
const AA_8: Action = (p) => {
  // Send A-ABORT PDU (service-provider source), issue A-P-ABORT indication, start ARTIM.
  p.sendAbort("provider");
  p.indicate("abort");
  p.startArtim();
  return "Sta13";
};

export const ACTIONS = {
  AE_5,
  AE_6,
  AE_7,
  AE_8,
  DT_1,
  DT_2,
  AR_2,
  AR_4,
  AR_5,
  AR_7,
  AA_1,
  AA_2,
  AA_3,
  AA_4,
  AA_5,
  AA_6,
  AA_7,
  AA_8,
} as const;
export type ActionName = keyof typeof ACTIONS;

/** PS3.8 Table 9-10, acceptor rows. */
export const TRANSITIONS: Readonly<Record<State, Partial<Record<Event, ActionName>>>> = {
  Sta1: { Evt5: "AE_5" },
  Sta2: {
    Evt3: "AA_1",
    Evt4: "AA_1",
    Evt6: "AE_6",
    Evt10: "AA_1",
    Evt12: "AA_1",
    Evt13: "AA_1",
    Evt15: "AA_1",
    Evt16: "AA_2",
    Evt17: "AA_5",
    Evt18: "AA_2",
    Evt19: "AA_1",
  },
  Sta3: {
    Evt3: "AA_8",
    Evt4: "AA_8",
    Evt6: "AA_8",
    Evt7: "AE_7",
    Evt8: "AE_8",
    Evt10: "AA_8",
    Evt12: "AA_8",
    Evt13: "AA_8",
    Evt15: "AA_1",
    Evt16: "AA_3",
    Evt17: "AA_4",
    Evt19: "AA_8",
  },
  Sta6: {
    Evt3: "AA_8",
    Evt4: "AA_8",
    Evt6: "AA_8",
    Evt9: "DT_1",
    Evt10: "DT_2",
    Evt12: "AR_2",
    Evt13: "AA_8",
    Evt15: "AA_1",
    Evt16: "AA_3",
    Evt17: "AA_4",
    Evt19: "AA_8",
  },
  Sta8: {
    Evt3: "AA_8",
    Evt4: "AA_8",
    Evt6: "AA_8",
    Evt9: "AR_7",
    Evt10: "AA_8",
    Evt12: "AA_8",
    Evt13: "AA_8",
    Evt14: "AR_4",
    Evt15: "AA_1",
    Evt16: "AA_3",
    Evt17: "AA_4",
    Evt19: "AA_8",
  },
  Sta13: {
    Evt3: "AA_6",
    Evt4: "AA_6",
    Evt6: "AA_7",
    Evt9: "AA_6",
    Evt10: "AA_6",
    Evt12: "AA_6",
    Evt13: "AA_6",
    Evt14: "AA_6",
    Evt15: "AA_6",
    Evt16: "AA_2",
    Evt17: "AR_5",
    Evt18: "AA_2",
    Evt19: "AA_7",
  },
};

/**
 * Run one event. An event the table does not list for the state is treated as Evt19 (invalid PDU /
 * unexpected primitive) there, which every state handles.
 */
export function transition(
  state: State,
  event: Event,
  port: ProviderPort,
): { next: State; action: ActionName } {
  const row = TRANSITIONS[state];
  const action = row[event] ?? row.Evt19 ?? "AA_8";
  return { next: ACTIONS[action](port), action };
}
