// What the store's reception needs of write-ahead durability (storage.durability: wal), implemented by
// src/store/wal: a log entry per instance, and the placing of its file behind the answer.

/** An entry of the write-ahead log holding one instance's bytes (src/store/wal/log.ts). */
export interface LogEntry {
  readonly id: number;
  /** false once the log had no room: the instance is made durable without it. */
  readonly logged: boolean;
  write(chunk: Uint8Array): void;
  /** Resolves once the entry (and all before it) is durable, with `header` naming its file. */
  commit(header: Uint8Array): Promise<void>;
  /** Its file is placed (or it never will be): the log may reuse its space. */
  release(): void;
}

/** Where an instance's bytes also go, and how its file is placed once answered. */
export interface WriteAhead {
  begin(): LogEntry;
  /** The temp file made durable under its final name (behind the answer); `entry` holds its bytes. */
  place(tempPath: string, finalPath: string, entry: number): Promise<void>;
}
