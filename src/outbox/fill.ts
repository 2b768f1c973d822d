// How full the outbox is, and what to do about it. With Kafka off (air-gapped sites) nothing ever leaves
// the outbox by itself: the texts say so (export needed), never "waiting for Kafka". Pure functions,
// shared by the server's warnings, /healthz, the status page and `storescp outbox status`
// (whose fill rate and time until full are src/outbox/capacity.ts).

/** From this share of outbox.max_mb on, a warning is logged and shown (once per crossing). */
export const NEARLY_FULL = 0.8;
/** The warning is re-armed once the outbox is below this share again. */
export const NEARLY_FULL_CLEARED = 0.7;

/** What empties the outbox: Kafka, or an operator with `storescp outbox export`. */
export function drainAdvice(kafkaEnabled: boolean): string {
  return kafkaEnabled
    ? "waiting for Kafka to take the records"
    : "Kafka is off: export needed (`storescp outbox export DIR`, beside the running server)";
}

/** The Error Comment and reason of a refusal when full; short, as an Error Comment keeps 64 characters. */
export function fullRefusal(maxMb: number, kafkaEnabled: boolean): string {
  return `outbox full (outbox.max_mb ${maxMb}): ${kafkaEnabled ? "waiting for Kafka" : "Kafka off, export needed"}`;
}
