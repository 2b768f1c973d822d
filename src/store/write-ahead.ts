// What the store's reception needs of write-ahead durability (storage.durability: wal), implemented by
// src/store/wal: a log entry per instance, and the placing of its file behind the answer.

import type { Placed } from "../pipeline/stages.ts";
import type { WalEntry } from "./wal/entries.ts";

/** An entry of the write-ahead log holding one instance's bytes (src/store/wal/entries.ts). */
export type LogEntry = WalEntry;

/** Where an instance's bytes also go, and how its file is placed once answered. */
export interface WriteAhead {
  begin(): LogEntry;
  /**
   * The temp file made durable under its final name (behind the answer); `entry` holds its bytes. An
   * entry that carries them alone has its temp file written from the log first.
   */
  place(tempPath: string, finalPath: string, entry: LogEntry): Promise<Placed>;
}
