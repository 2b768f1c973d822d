// What an Upper Layer association asks of the application above it, its DICOM UL service-user (PS3.8
// section 7): the decision on an A-ASSOCIATE-RQ, the PDVs of P-DATA, the release and the end. The
// association (association.ts) owns the connection and the state machine; the service-user
// (src/scp/association.ts) owns the messages and what they start.

import type { AcceptedContext } from "./negotiation.ts";
import type { PdvHandler } from "./pdu/reader.ts";
import type { AssociateRqPdu } from "./pdu/types.ts";
import type { AssociateRejection } from "./rejections.ts";

/** The service-user's A-ASSOCIATE response primitive; `A` is what an acceptance carries to it. */
export type AssociateAnswer<A> =
  | {
      accepted: true;
      acceptance: A;
      /** Answer the requestor's User Identity sub-item with a positive response (PS3.7 D.3.3.7.2). */
      identityResponse?: boolean;
    }
  | {
      accepted: false;
      rejection: AssociateRejection;
      /** For the log line: never sent to the peer (A-ASSOCIATE-RJ has no text). */
      why: string;
    };

/** How an association ended, for the log and the metrics. */
export type Ending =
  | "released"
  | "aborted-by-peer"
  | "aborted"
  | "rejected"
  | "disconnected"
  | "timeout"
  | "dropped";

export interface ServiceUser<A> {
  /**
   * A-ASSOCIATE indication: accept or reject the RQ. May take a while (a password check), so it may
   * answer with a promise; a promise that rejects is answered with a transient rejection.
   */
  associate(rq: AssociateRqPdu): AssociateAnswer<A> | Promise<AssociateAnswer<A>>;
  /** Accepted: the A-ASSOCIATE-AC accepting `contexts` goes out right after this. */
  established(rq: AssociateRqPdu, contexts: ReadonlyMap<number, AcceptedContext>, acceptance: A): void;
  /**
   * The PDVs of each accepted P-DATA-TF, piece by piece; throws PduError for a protocol violation,
   * which aborts the association.
   */
  pdv: PdvHandler;
  /** A-RELEASE indication: resolves once every operation started has been answered (PS3.8 7.2). */
  release(): Promise<void>;
  /** The association is aborted or gone: drop the operation whose input is incomplete, if any. */
  dropIncomplete(): void;
  /** The association is over (idle again, Sta1). */
  ended(ending: Ending): void;
  /** Received bytes held and not on disk yet: reading pauses while there are too many. */
  readonly heldBytes: number;
  /** Operations started and not answered yet: reading pauses while there are too many. */
  readonly outstanding: number;
  /** No message is partly received. */
  readonly betweenMessages: boolean;
}
