// How full the outbox is, and what to do about it. With Kafka off (air-gapped sites) nothing ever leaves
// the outbox by itself: the texts say so (export needed), never "waiting for Kafka". Pure functions,
// shared by the server's warnings, /healthz, the status page and `storescp outbox status`.

/** From this share of outbox.max_mb on, a warning is logged and shown (once per crossing). */
export const NEARLY_FULL = 0.8;
/** The warning is re-armed once the outbox is below this share again. */
export const NEARLY_FULL_CLEARED = 0.7;

/** What empties the outbox: Kafka, or an operator with `storescp outbox export`. */
export function drainAdvice(kafkaEnabled: boolean): string {
  return kafkaEnabled
    ? "waiting for Kafka to take the records"
    : "Kafka is off: export needed (stop storescp, run `storescp outbox export DIR`)";
}

/** The Error Comment and reason of a refusal when full; short, as an Error Comment keeps 64 characters. */
export function fullRefusal(maxMb: number, kafkaEnabled: boolean): string {
  return `outbox full (outbox.max_mb ${maxMb}): ${kafkaEnabled ? "waiting for Kafka" : "Kafka off, export needed"}`;
}

export interface Forecast {
  /** Average growth since the oldest record waiting, in bytes per hour; null when it cannot be told. */
  bytesPerHour: number | null;
  /** Hours until outbox.max_mb at that rate: 0 when full, null when empty or not growing. */
  hoursToFull: number | null;
}

/**
 * The fill rate as the average since the oldest record still waiting (what accumulated over that time),
 * and the time left until full at that rate.
 */
export function forecast(
  bytes: number,
  maxBytes: number,
  oldestIso: string | null,
  now = Date.now(),
): Forecast {
  if (bytes >= maxBytes) return { bytesPerHour: null, hoursToFull: 0 };
  const since = oldestIso === null ? Number.NaN : Date.parse(oldestIso);
  const hours = (now - since) / 3_600_000;
  if (!(hours > 1 / 60) || bytes <= 0) return { bytesPerHour: null, hoursToFull: null };
  const bytesPerHour = bytes / hours;
  return { bytesPerHour, hoursToFull: (maxBytes - bytes) / bytesPerHour };
}

/** 45 min, 5.2 h, 3.1 d */
export function formatHours(h: number): string {
  if (h < 2) return `${Math.max(0, Math.round(h * 60))} min`;
  if (h < 48) return `${h.toFixed(1)} h`;
  return `${(h / 24).toFixed(1)} d`;
}

/** The two lines `storescp outbox status` prints about filling up (label, value). */
export function forecastLines(
  bytes: number,
  maxMb: number,
  oldestIso: string | null,
  kafkaEnabled: boolean,
  now = Date.now(),
): Array<[string, string]> {
  const max = maxMb * 1024 * 1024;
  const f = forecast(bytes, max, oldestIso, now);
  const rate =
    f.bytesPerHour === null
      ? "-"
      : `${(f.bytesPerHour / (1024 * 1024)).toFixed(1)} MiB/h (average since the oldest record waiting)`;
  const full =
    f.hoursToFull === 0
      ? `FULL now: ${drainAdvice(kafkaEnabled)}`
      : f.hoursToFull === null
        ? "-"
        : `in about ${formatHours(f.hoursToFull)} at that rate${kafkaEnabled ? " (unless Kafka takes them)" : ""}`;
  return [
    ["fill rate", rate],
    ["full", full],
  ];
}
