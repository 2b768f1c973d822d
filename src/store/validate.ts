// What an instance must carry before it may enter the archive (SPEC section 3). Each problem maps to
// the DIMSE status the modality is answered with; the instance itself goes to quarantine.

import type { InstanceAttributes } from "../dicom/attribute-scanner.ts";
import { uidProblem } from "../dicom/uid.ts";
import { Status } from "../dimse/status.ts";

export interface Problem {
  status: number;
  reason: string;
}

/** The command's view of the instance: the data set must agree with it (PS3.4 B.2.3, A900). */
export interface CommandIdentity {
  sopClassUid: string;
  sopInstanceUid: string;
}

function validDate(s: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** First problem found, or undefined when the instance may be stored. */
export function validateInstance(
  a: InstanceAttributes,
  cmd: CommandIdentity,
  parseError: string | undefined,
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
  if (!a.patientId)
    return { status: Status.DataSetDoesNotMatchSopClass, reason: "Patient ID (0010,0020) missing" };
  if (!a.studyDate)
    return { status: Status.DataSetDoesNotMatchSopClass, reason: "Study Date (0008,0020) missing" };
  if (!validDate(a.studyDate)) {
    return {
      status: Status.DataSetDoesNotMatchSopClass,
      reason: `Study Date (0008,0020) "${a.studyDate}" is not YYYYMMDD`,
    };
  }
  return undefined;
}
