// DIMSE message assembly (PS3.7 section 9.2, PS3.8 Annex E): PDV fragments become a command set,
// then, when the command says so, the data set fragments that follow on the same presentation context
// stream to the operation's sink. The command is buffered (it is small and bounded); the data set never is.

import { PduError } from "../net/pdu/errors.ts";
import { AbortReason } from "../net/pdu/types.ts";
import { concatBytes } from "../util/bytes.ts";
import { copyTransient, type TransientBytes } from "../util/transient-bytes.ts";
import { type CommandSet, decodeCommandSet, MAX_COMMAND_SET_LENGTH } from "./command.ts";
import type { DataSink, Operation } from "./operation.ts";
import { DimseError } from "./status.ts";

export interface AssemblerPort {
  /** A complete command set arrived on this accepted context: start its operation. */
  begin(contextId: number, cmd: CommandSet): Operation;
  /** The operation has all its input; the port completes it and sends the response. */
  ready(contextId: number, op: Operation): void;
  /** Is this presentation context id one we accepted? */
  accepted(contextId: number): boolean;
}

export class MessageAssembler {
  private commandParts: Uint8Array[] = [];
  private commandBytes = 0;
  private commandContext = 0;
  /** The operation whose data set is arriving, and on which context. */
  private receiving: { contextId: number; op: Operation; sink: DataSink } | null = null;

  constructor(private readonly port: AssemblerPort) {}

  /** Between messages: no command or data set is partly received. */
  get idle(): boolean {
    return this.receiving === null && this.commandParts.length === 0 && this.commandBytes === 0;
  }

  /** The sink currently receiving a data set, for backpressure. */
  get currentSink(): DataSink | null {
    return this.receiving?.sink ?? null;
  }

  /** Hand over the operation whose data set is incomplete, if any, to abort it (the association ended). */
  takeIncomplete(): Operation | null {
    const op = this.receiving?.op ?? null;
    this.receiving = null;
    return op;
  }

  /** One piece of a PDV; throws PduError for a protocol violation (the association aborts). */
  pdv(contextId: number, isCommand: boolean, isLast: boolean, chunk: TransientBytes, pdvEnd: boolean): void {
    if (!this.port.accepted(contextId)) {
      throw new PduError(
        `P-DATA on presentation context ${contextId}, which was not accepted`,
        AbortReason.UnexpectedPduParameter,
      );
    }
    if (isCommand) this.commandFragment(contextId, isLast, chunk, pdvEnd);
    else this.dataFragment(contextId, isLast, chunk, pdvEnd);
  }

  private commandFragment(contextId: number, isLast: boolean, chunk: TransientBytes, pdvEnd: boolean): void {
    if (this.receiving) {
      throw new PduError(
        "command fragment while a data set is incomplete",
        AbortReason.UnexpectedPduParameter,
      );
    }
    if (this.commandBytes > 0 && contextId !== this.commandContext) {
      throw new PduError(
        "command fragments on two presentation contexts",
        AbortReason.UnexpectedPduParameter,
      );
    }
    this.commandContext = contextId;
    this.commandBytes += chunk.length;
    if (this.commandBytes > MAX_COMMAND_SET_LENGTH) {
      throw new PduError(
        `command set longer than ${MAX_COMMAND_SET_LENGTH} bytes`,
        AbortReason.InvalidPduParameterValue,
      );
    }
    // The command outlives the socket read it came in (the response is built from it): a copy.
    if (chunk.length > 0) this.commandParts.push(copyTransient(chunk));
    if (!(isLast && pdvEnd)) return;

    const bytes = concatBytes(this.commandParts);
    this.commandParts = [];
    this.commandBytes = 0;
    let cmd: CommandSet;
    try {
      cmd = decodeCommandSet(bytes);
    } catch (err) {
      if (err instanceof DimseError)
        throw new PduError(`malformed command set: ${err.message}`, AbortReason.InvalidPduParameterValue);
      throw err;
    }
    const op = this.port.begin(contextId, cmd);
    if (op.data) this.receiving = { contextId, op, sink: op.data };
    else this.port.ready(contextId, op);
  }

  private dataFragment(contextId: number, isLast: boolean, chunk: TransientBytes, pdvEnd: boolean): void {
    const r = this.receiving;
    if (!r) throw new PduError("data set fragment without a command", AbortReason.UnexpectedPduParameter);
    if (r.contextId !== contextId) {
      throw new PduError(
        "data set fragment on another presentation context than its command",
        AbortReason.UnexpectedPduParameter,
      );
    }
    if (chunk.length > 0) r.sink.write(chunk);
    if (isLast && pdvEnd) {
      this.receiving = null;
      this.port.ready(contextId, r.op);
    }
  }
}
