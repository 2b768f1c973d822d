// What an instance must carry before it may enter the archive (docs/storage.md). Each problem maps to
// the DIMSE status the modality is answered with; the instance itself goes to quarantine.
//
// Required are the Type 1 UIDs (PS3.3: SOP Class and Instance, Study and Series Instance UID) and their
// agreement with the command. Patient ID and Study Date are Type 2: a conformant instance may carry
// them empty and real devices leave them out, so by default their absence is only a warning (listed in
// the outbox record); storage.require makes either a failure again for sites whose consumers need it.

import type { Requirable } from "../config/requirable.ts";
import type { InstanceAttributes } from "../dicom/attribute-scanner.ts";
import { uidProblem } from "../dicom/uid.ts";
import { Status } from "../dimse/status.ts";
import type { Problem } from "../pipeline/stages.ts";

/** The command's view of the instance: the data set must agree with it (PS3.4 B.2.3, A900). */
export interface CommandIdentity {
  sopClassUid: string;
  sopInstanceUid: string;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * YYYYMMDD naming a day of the Gregorian calendar. Years below 0100 are refused: no study was made then,
 * and such a value is a broken date (as JavaScript's Date, used before, read them as 19YY).
 */
export function validDate(s: string): boolean {
  if (s.length !== 8) return false;
  let n = 0;
  for (let i = 0; i < 8; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return false;
    n = n * 10 + c;
  }
  const y = Math.floor(n / 10000);
  const m = Math.floor(n / 100) % 100;
  const d = n % 100;
  if (y < 100 || m < 1 || m > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (m === 2 && leap ? 29 : (DAYS_IN_MONTH[m - 1] as number));
}

/** The Type 2 attributes storage.require may insist on. */

/** What is wrong with Patient ID, or null when it has a value. */
function patientIdGap(a: InstanceAttributes): string | null {
  if (a.patientId === undefined) return "Patient ID (0010,0020) absent";
  return a.patientId === "" ? "Patient ID (0010,0020) empty" : null;
}

/** What is wrong with Study Date, or null when it is a date. */
function studyDateGap(a: InstanceAttributes): string | null {
  const d = a.studyDate;
  if (d === undefined) return "Study Date (0008,0020) absent";
  if (d === "") return "Study Date (0008,0020) empty";
  return validDate(d) ? null : `Study Date (0008,0020) "${d}" is not YYYYMMDD`;
}

/**
 * The Type 2 gaps of an instance that is stored all the same (those not in `required`): one line each,
 * for the outbox record's `warnings` and the log; null when there is none.
 */
export function type2Warnings(a: InstanceAttributes, required: readonly Requirable[] = []): string[] | null {
  const patient = required.includes("patient_id") ? null : patientIdGap(a);
  const date = required.includes("study_date") ? null : studyDateGap(a);
  if (patient === null && date === null) return null;
  const out: string[] = [];
  if (patient !== null) out.push(patient);
  if (date !== null) out.push(date);
  return out;
}

/** First problem found, or undefined when the instance may be stored. */
export function validateInstance(
  a: InstanceAttributes,
  cmd: CommandIdentity,
  parseError: string | undefined,
  required: readonly Requirable[] = [],
): Problem | undefined {
  if (parseError)
    return { status: Status.CannotUnderstand, reason: `data set cannot be parsed: ${parseError}` };
  const uids: Array<[string, string, string | undefined]> = [
    ["SOP Class UID", "(0008,0016)", a.sopClassUid],
    ["SOP Instance UID", "(0008,0018)", a.sopInstanceUid],
    ["Study Instance UID", "(0020,000D)", a.studyInstanceUid],
    ["Series Instance UID", "(0020,000E)", a.seriesInstanceUid],
  ];
  for (const [name, tag, value] of uids) {
    if (!value) return { status: Status.DataSetDoesNotMatchSopClass, reason: `${name} ${tag} missing` };
    const problem = uidProblem(value);
    if (problem)
      return { status: Status.DataSetDoesNotMatchSopClass, reason: `${name} ${tag} invalid: ${problem}` };
  }
  if (a.sopClassUid !== cmd.sopClassUid) {
    return {
      status: Status.DataSetDoesNotMatchSopClass,
      reason: `SOP Class UID ${a.sopClassUid} differs from the command's ${cmd.sopClassUid}`,
    };
  }
  if (a.sopInstanceUid !== cmd.sopInstanceUid) {
    return {
      status: Status.DataSetDoesNotMatchSopClass,
      reason: `SOP Instance UID ${a.sopInstanceUid} differs from the command's ${cmd.sopInstanceUid}`,
    };
  }
  if (required.length === 0) return undefined;
  const gap =
    (required.includes("patient_id") ? patientIdGap(a) : null) ??
    (required.includes("study_date") ? studyDateGap(a) : null);
  if (gap === null) return undefined;
  // The cause first: the Error Comment keeps only 64 characters.
  return { status: Status.DataSetDoesNotMatchSopClass, reason: `storage.require: ${gap}` };
}
