// PDU values of the DICOM Upper Layer protocol (PS3.8 section 9.3), as plain data with no I/O.
// Field names follow the standard's own wording so a reviewer can hold them against the tables.

/** PDU types, PS3.8 Table 9-1 … 9-26 (first byte of every PDU). */
export const PduType = {
  AssociateRq: 0x01,
  AssociateAc: 0x02,
  AssociateRj: 0x03,
  PData: 0x04,
  ReleaseRq: 0x05,
  ReleaseRp: 0x06,
  Abort: 0x07,
} as const;

/** Item types inside A-ASSOCIATE-RQ/AC, PS3.8 9.3.2 / 9.3.3 and PS3.7 Annex D.3.3. */
export const ItemType = {
  ApplicationContext: 0x10,
  PresentationContextRq: 0x20,
  PresentationContextAc: 0x21,
  AbstractSyntax: 0x30,
  TransferSyntax: 0x40,
  UserInformation: 0x50,
  MaximumLength: 0x51,
  ImplementationClassUid: 0x52,
  AsynchronousOperationsWindow: 0x53,
  RoleSelection: 0x54,
  ImplementationVersionName: 0x55,
  SopClassExtendedNegotiation: 0x56,
  SopClassCommonExtendedNegotiation: 0x57,
  UserIdentityRq: 0x58,
  UserIdentityAc: 0x59,
} as const;

/** The only application context name of DICOM, PS3.7 Annex A.2.1. */
export const DICOM_APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1";

/** Presentation context result/reason, PS3.8 Table 9-18. */
export const PresentationContextResult = {
  Acceptance: 0,
  UserRejection: 1,
  NoReason: 2,
  AbstractSyntaxNotSupported: 3,
  TransferSyntaxesNotSupported: 4,
} as const;

/** A-ASSOCIATE-RJ Result, PS3.8 Table 9-21. */
export const RejectResult = { Permanent: 1, Transient: 2 } as const;

/** A-ASSOCIATE-RJ Source, PS3.8 Table 9-21. */
export const RejectSource = {
  ServiceUser: 1,
  ServiceProviderAcse: 2,
  ServiceProviderPresentation: 3,
} as const;

/** A-ASSOCIATE-RJ Reason/Diag., PS3.8 Table 9-21 (meaning depends on Source). */
export const RejectReason = {
  // Source 1: DICOM UL service-user
  NoReasonGiven: 1,
  ApplicationContextNameNotSupported: 2,
  CallingAeTitleNotRecognized: 3,
  CalledAeTitleNotRecognized: 7,
  // Source 2: DICOM UL service-provider (ACSE related function)
  ProviderNoReasonGiven: 1,
  ProtocolVersionNotSupported: 2,
  // Source 3: DICOM UL service-provider (Presentation related function)
  TemporaryCongestion: 1,
  LocalLimitExceeded: 2,
} as const;

/** A-ABORT Source, PS3.8 Table 9-26. */
export const AbortSource = { ServiceUser: 0, ServiceProvider: 2 } as const;

/** A-ABORT Reason/Diag. when Source is the service-provider, PS3.8 Table 9-26. */
export const AbortReason = {
  NotSpecified: 0,
  UnrecognizedPdu: 1,
  UnexpectedPdu: 2,
  UnrecognizedPduParameter: 4,
  UnexpectedPduParameter: 5,
  InvalidPduParameterValue: 6,
} as const;

export interface PresentationContextRqItem {
  /** Odd integer 1..255. */
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

export interface PresentationContextAcItem {
  id: number;
  /** 0..4, see PresentationContextResult. */
  result: number;
  /** Required by the standard even when rejected (value then not significant). */
  transferSyntax: string;
}

/** SCP/SCU Role Selection sub-item, PS3.7 D.3.3.4. */
export interface RoleSelection {
  sopClassUid: string;
  scuRole: boolean;
  scpRole: boolean;
}

/** SOP Class Extended Negotiation sub-item, PS3.7 D.3.3.5. */
export interface SopClassExtendedNegotiation {
  sopClassUid: string;
  serviceClassApplicationInformation: Uint8Array;
}

/** SOP Class Common Extended Negotiation sub-item, PS3.7 D.3.3.6 (RQ only). */
export interface SopClassCommonExtendedNegotiation {
  sopClassUid: string;
  serviceClassUid: string;
  relatedGeneralSopClassUids: string[];
}

/** User Identity types, PS3.7 Table D.3-14. */
export const UserIdentityType = {
  Username: 1,
  UsernameAndPasscode: 2,
  KerberosTicket: 3,
  SamlAssertion: 4,
  JsonWebToken: 5,
} as const;

/** User Identity Negotiation sub-item (A-ASSOCIATE-RQ), PS3.7 D.3.3.7.1. */
export interface UserIdentityRq {
  identityType: number;
  positiveResponseRequested: boolean;
  primaryField: Uint8Array;
  /** Only meaningful for type 2 (passcode); empty otherwise. */
  secondaryField: Uint8Array;
}

/** User Identity Negotiation sub-item (A-ASSOCIATE-AC), PS3.7 D.3.3.7.2. */
export interface UserIdentityAc {
  serverResponse: Uint8Array;
}

/** A sub-item we do not know: kept so it round-trips and can be logged. */
export interface UnknownItem {
  itemType: number;
  data: Uint8Array;
}

/** User Information item (0x50) and its sub-items, PS3.8 9.3.2.3 / PS3.7 Annex D.3. */
export interface UserInformation {
  /** Maximum length received, PS3.8 D.1; 0 means unlimited. */
  maxLength?: number;
  implementationClassUid?: string;
  implementationVersionName?: string;
  asyncOperationsWindow?: { maxOperationsInvoked: number; maxOperationsPerformed: number };
  roleSelections: RoleSelection[];
  extendedNegotiations: SopClassExtendedNegotiation[];
  commonExtendedNegotiations: SopClassCommonExtendedNegotiation[];
  userIdentityRq?: UserIdentityRq;
  userIdentityAc?: UserIdentityAc;
  unknownItems: UnknownItem[];
}

export interface AssociateRqPdu {
  type: typeof PduType.AssociateRq;
  protocolVersion: number;
  /** Trimmed of the padding spaces. */
  calledAeTitle: string;
  callingAeTitle: string;
  applicationContext: string;
  presentationContexts: PresentationContextRqItem[];
  userInformation: UserInformation;
}

export interface AssociateAcPdu {
  type: typeof PduType.AssociateAc;
  protocolVersion: number;
  /** Echoed from the RQ; not tested by the receiver (PS3.8 9.3.3). */
  calledAeTitle: string;
  callingAeTitle: string;
  applicationContext: string;
  presentationContexts: PresentationContextAcItem[];
  userInformation: UserInformation;
}

export interface AssociateRjPdu {
  type: typeof PduType.AssociateRj;
  result: number;
  source: number;
  reason: number;
}

/** One Presentation Data Value item, PS3.8 9.3.5.1 and Annex E.2 (message control header). */
export interface Pdv {
  presentationContextId: number;
  /** Bit 0 of the message control header. */
  isCommand: boolean;
  /** Bit 1 of the message control header. */
  isLast: boolean;
  data: Uint8Array;
}

export interface PDataPdu {
  type: typeof PduType.PData;
  pdvs: Pdv[];
}

export interface ReleaseRqPdu {
  type: typeof PduType.ReleaseRq;
}

export interface ReleaseRpPdu {
  type: typeof PduType.ReleaseRp;
}

export interface AbortPdu {
  type: typeof PduType.Abort;
  source: number;
  reason: number;
}

export type Pdu =
  | AssociateRqPdu
  | AssociateAcPdu
  | AssociateRjPdu
  | PDataPdu
  | ReleaseRqPdu
  | ReleaseRpPdu
  | AbortPdu;

export function emptyUserInformation(): UserInformation {
  return {
    roleSelections: [],
    extendedNegotiations: [],
    commonExtendedNegotiations: [],
    unknownItems: [],
  };
}
