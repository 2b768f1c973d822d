// The A-ASSOCIATE-RJ an acceptor sends, as named values: PS3.8 section 9.3.4, Table 9-21 (Result,
// Source, Reason/Diag.). The service-user's decisions are mapped to one of these where the application
// meets the Upper Layer (src/scp/admission.ts); the codes themselves appear nowhere else.

import { RejectReason, RejectResult, RejectSource } from "./pdu/types.ts";

export interface AssociateRejection {
  readonly result: number;
  readonly source: number;
  readonly reason: number;
}

export const Rejection = {
  /** 1/1/1: rejected-permanent by the service-user, no reason given. */
  PermanentNoReason: {
    result: RejectResult.Permanent,
    source: RejectSource.ServiceUser,
    reason: RejectReason.NoReasonGiven,
  },
  /** 2/1/1: rejected-transient by the service-user, no reason given. */
  TransientNoReason: {
    result: RejectResult.Transient,
    source: RejectSource.ServiceUser,
    reason: RejectReason.NoReasonGiven,
  },
  /** 1/1/2: application-context-name not supported. */
  ApplicationContextNotSupported: {
    result: RejectResult.Permanent,
    source: RejectSource.ServiceUser,
    reason: RejectReason.ApplicationContextNameNotSupported,
  },
  /** 1/1/3: calling-AE-title not recognized. */
  CallingAeNotRecognized: {
    result: RejectResult.Permanent,
    source: RejectSource.ServiceUser,
    reason: RejectReason.CallingAeTitleNotRecognized,
  },
  /** 1/1/7: called-AE-title not recognized. */
  CalledAeNotRecognized: {
    result: RejectResult.Permanent,
    source: RejectSource.ServiceUser,
    reason: RejectReason.CalledAeTitleNotRecognized,
  },
  /** 1/2/2: protocol-version not supported (service-provider, ACSE related function). */
  ProtocolVersionNotSupported: {
    result: RejectResult.Permanent,
    source: RejectSource.ServiceProviderAcse,
    reason: RejectReason.ProtocolVersionNotSupported,
  },
  /** 2/3/1: temporary-congestion (service-provider, presentation related function). */
  TemporaryCongestion: {
    result: RejectResult.Transient,
    source: RejectSource.ServiceProviderPresentation,
    reason: RejectReason.TemporaryCongestion,
  },
  /** 2/3/2: local-limit-exceeded (service-provider, presentation related function). */
  LocalLimitExceeded: {
    result: RejectResult.Transient,
    source: RejectSource.ServiceProviderPresentation,
    reason: RejectReason.LocalLimitExceeded,
  },
} as const satisfies Record<string, AssociateRejection>;
