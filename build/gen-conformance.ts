/**
 * The DICOM Conformance Statement (docs/conformance-statement.md, PS3.2 structure), generated from the
 * tables the code runs on, so that it cannot drift from what the product does:
 *  - SOP classes and transfer syntaxes: every registry entry is proposed to the negotiation itself
 *    (src/net/negotiation.ts) and the statement lists what it accepts, with and without
 *    scp.uncompressed_only;
 *  - transcoding: the decoders and encoders of src/transcode/transcode.ts;
 *  - statuses and rejections: the named constants of src/dimse/status.ts and src/net/pdu/types.ts;
 *  - identification: src/dicom/implementation.ts; TLS: the cipher list of src/net/transport.ts;
 *  - defaults: src/config/defaults.ts.
 * The prose says when each applies; test/build/conformance.test.ts fails when the committed file is stale.
 *
 *   npx bun build/gen-conformance.ts          (rewrites docs/conformance-statement.md)
 */

import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { DEFAULTS } from "../src/config/defaults.ts";
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "../src/dicom/implementation.ts";
import { STORAGE_SOP_CLASSES, VERIFICATION_SOP_CLASS } from "../src/dicom/sop-classes.ts";
import { TRANSFER_SYNTAXES } from "../src/dicom/transfer-syntax.ts";
import { hex4, Status } from "../src/dimse/status.ts";
import { type NegotiationPolicy, negotiate } from "../src/net/negotiation.ts";
import {
  DICOM_APPLICATION_CONTEXT,
  emptyUserInformation,
  PduType,
  PresentationContextResult,
  RejectReason,
  RejectResult,
  RejectSource,
} from "../src/net/pdu/types.ts";
import { BCP195_TLS12_CIPHERS } from "../src/net/transport.ts";
import { canRead, TARGETS } from "../src/transcode/transcode.ts";

const ROOT = resolve(import.meta.dir, "..");
export const CONFORMANCE_PATH = join(ROOT, "docs", "conformance-statement.md");

const POLICY: NegotiationPolicy = {
  promiscuous: false,
  uncompressedOnly: false,
  maxPduLength: DEFAULTS.scp.max_pdu_length,
};

/** The contexts the negotiation accepts, proposing each pair alone (ids 1, 3, ... in batches). */
function accepted(pairs: Array<[string, string]>, policy: NegotiationPolicy): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < pairs.length; i += 100) {
    const batch = pairs.slice(i, i + 100);
    const { ac } = negotiate(
      {
        type: PduType.AssociateRq,
        protocolVersion: 1,
        calledAeTitle: "STORESCP",
        callingAeTitle: "CONFORMANCE",
        applicationContext: DICOM_APPLICATION_CONTEXT,
        presentationContexts: batch.map(([as, ts], j) => ({
          id: 2 * j + 1,
          abstractSyntax: as,
          transferSyntaxes: [ts],
        })),
        userInformation: emptyUserInformation(),
      },
      policy,
    );
    for (const [j, pc] of ac.presentationContexts.entries()) {
      const pair = batch[j];
      if (pair && pc.result === PresentationContextResult.Acceptance) out.add(`${pair[0]} ${pair[1]}`);
    }
  }
  return out;
}

const ImplicitLE = "1.2.840.10008.1.2";

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** When each C-STORE status is answered: the prose; the codes are those of Status. */
const STORE_STATUSES: Array<[keyof typeof Status, string, string]> = [
  [
    "Success",
    "Success",
    "the instance is durable with its outbox record (in the write-ahead log, or its file synced and renamed)",
  ],
  [
    "OutOfResources",
    "Refused: Out of Resources",
    "free space below storage.min_free_mb, the tenant's storage.max_gb quota reached, the outbox full " +
      "(outbox.max_mb), the disk full while writing, or more than 4096 instances waiting to be transcoded; " +
      "nothing is kept (the modality keeps its copy)",
  ],
  [
    "DataSetDoesNotMatchSopClass",
    "Error: Data Set does not match SOP Class",
    "a Type 1 UID (SOP Class, SOP Instance, Study or Series Instance UID) absent or invalid, the data set's " +
      "SOP Class/Instance UID differing from the command's or the context's, or a Type 2 attribute listed in " +
      "storage.require missing; the data set is quarantined with its reason",
  ],
  [
    "CannotUnderstand",
    "Error: Cannot understand",
    "the data set cannot be parsed, or a C-STORE-RQ without a data set",
  ],
  [
    "DuplicateSopInstance",
    "Failure: Duplicate SOP Instance",
    "the SOP Instance is already stored and storage.on_duplicate is reject (quarantined)",
  ],
  [
    "NotAuthorized",
    "Refused: Not authorized",
    "with tenant_tag, the C-STORE names a tenant that does not admit the association (quarantined)",
  ],
  [
    "ProcessingFailure",
    "Failure: Processing failure",
    "a storage error other than a full disk (the Error Comment says which)",
  ],
  [
    "UnrecognizedOperation",
    "Failure: Unrecognized operation",
    "a DIMSE command other than C-STORE, C-ECHO or C-CANCEL",
  ],
  [
    "NoSuchSopClass",
    "Failure: No such SOP Class",
    "C-ECHO on a context whose abstract syntax is not Verification",
  ],
];

const REJECTIONS: Array<[number, number, number, string, string]> = [
  [
    RejectResult.Permanent,
    RejectSource.ServiceUser,
    RejectReason.CalledAeTitleNotRecognized,
    "called-AE-title-not-recognized",
    "tenants are configured and the called AE title is none of theirs",
  ],
  [
    RejectResult.Permanent,
    RejectSource.ServiceUser,
    RejectReason.CallingAeTitleNotRecognized,
    "calling-AE-title-not-recognized",
    "the tenant's allowed_calling_aes does not list the calling AE title",
  ],
  [
    RejectResult.Permanent,
    RejectSource.ServiceUser,
    RejectReason.NoReasonGiven,
    "no-reason-given",
    "address outside the tenant's allowed_networks, user identity missing or wrong, TLS client certificate subject not in tls_subjects",
  ],
  [
    RejectResult.Permanent,
    RejectSource.ServiceUser,
    RejectReason.ApplicationContextNameNotSupported,
    "application-context-name-not-supported",
    "an application context other than 1.2.840.10008.3.1.1.1",
  ],
  [
    RejectResult.Permanent,
    RejectSource.ServiceProviderAcse,
    RejectReason.ProtocolVersionNotSupported,
    "protocol-version-not-supported",
    "protocol version without bit 0",
  ],
  [
    RejectResult.Transient,
    RejectSource.ServiceUser,
    RejectReason.NoReasonGiven,
    "no-reason-given",
    "the license expired while running",
  ],
  [
    RejectResult.Transient,
    RejectSource.ServiceProviderPresentation,
    RejectReason.LocalLimitExceeded,
    "local-limit-exceeded",
    "scp.max_associations, or scp.max_associations_per_address from that address, reached",
  ],
  [
    RejectResult.Transient,
    RejectSource.ServiceProviderPresentation,
    RejectReason.TemporaryCongestion,
    "temporary-congestion",
    "free space below storage.min_free_mb, or the outbox full",
  ],
];

export function conformanceStatement(): string {
  const storage = STORAGE_SOP_CLASSES.filter((c) => !c.retired);
  const retired = STORAGE_SOP_CLASSES.filter((c) => c.retired);
  // Every transfer syntax proposed for one storage class, with and without uncompressed_only.
  const probe = STORAGE_SOP_CLASSES.find((c) => c.uid === "1.2.840.10008.5.1.4.1.1.7")?.uid ?? "";
  const tsPairs = TRANSFER_SYNTAXES.map((t): [string, string] => [probe, t.uid]);
  const all = accepted(tsPairs, POLICY);
  const native = accepted(tsPairs, { ...POLICY, uncompressedOnly: true });
  // Every SOP class with Implicit VR Little Endian.
  const sopPairs = [VERIFICATION_SOP_CLASS, ...STORAGE_SOP_CLASSES.map((c) => c.uid)].map(
    (uid): [string, string] => [uid, ImplicitLE],
  );
  const sops = accepted(sopPairs, POLICY);
  const notAccepted = sopPairs.filter((p) => !sops.has(`${p[0]} ${p[1]}`)).map((p) => p[0]);
  if (notAccepted.length > 0)
    throw new Error(`the negotiation refuses registry classes: ${notAccepted.join(", ")}`);

  const tsRows = TRANSFER_SYNTAXES.filter((t) => all.has(`${probe} ${t.uid}`)).map((t) => [
    `${t.name}${t.retired ? " (retired)" : ""}`,
    t.uid,
    native.has(`${probe} ${t.uid}`) ? "yes" : "no",
    canRead(t.uid) ? "yes" : "stored as received only",
    TARGETS.has(t.uid) ? "yes" : "-",
  ]);
  const refused = TRANSFER_SYNTAXES.filter((t) => !all.has(`${probe} ${t.uid}`));
  const d = DEFAULTS;
  const statusRows = STORE_STATUSES.map(([k, name, when]) => [hex4(Status[k]), name, when]);
  const rejectRows = REJECTIONS.map(([r, s, why, name, when]) => [
    r === 1 ? "1 (permanent)" : "2 (transient)",
    String(s),
    String(why),
    name,
    when,
  ]);

  return `<!-- Generated by build/gen-conformance.ts from the code's own tables; do not edit.
     Regenerate: npx bun build/gen-conformance.ts (test/build/conformance.test.ts fails when stale). -->

# DICOM Conformance Statement — storescp ${pkg.version}

Structured after DICOM PS3.2 (Conformance). storescp is a DICOM Storage SCP (C-STORE and C-ECHO
receiver) that stores every instance it accepts durably, bit-preserving, at a templated path, and
records a metadata event per instance in an outbox that it publishes to Kafka.

## 1. Conformance statement overview

${table(
  ["SOP classes", "User of service (SCU)", "Provider of service (SCP)"],
  [
    ["Verification", "yes (`storescp echo`)", "yes"],
    [`Storage: all ${storage.length} Storage SOP Classes of the standard (section 3.2.1)`, "no", "yes"],
    [`Storage: ${retired.length} retired Storage SOP Classes`, "no", "yes"],
    ["Any other SOP class (only with scp.promiscuous)", "no", "yes"],
  ],
)}

No media interchange (section 4). No query/retrieve, worklist, commitment or print.

## 2. Introduction

- Revision: storescp ${pkg.version}; Implementation Class UID \`${IMPLEMENTATION_CLASS_UID}\`, Implementation
  Version Name \`${IMPLEMENTATION_VERSION_NAME}\` (sent in A-ASSOCIATE-AC and written into every file's meta
  information).
- Audience: integrators connecting modalities and PACS to storescp; the reader knows PS3.2, PS3.4, PS3.7
  and PS3.8.
- The command line, configuration keys, file layout and outbox record are described in docs/cli.md,
  docs/configuration.md and docs/storage.md.

## 3. Networking

### 3.1 Implementation model

One Application Entity, the Storage SCP AE, per configured AE title (\`scp.ae_title\`, default
\`${d.scp.ae_title}\`, or each tenant's \`ae_titles\`), listening on TCP port \`scp.port\` (default ${d.scp.port})
and optionally a DICOM TLS port. Real-world activity: a remote AE opens an association and sends C-STORE
requests; each data set is streamed to a temporary file in its final directory, validated, synced and
renamed, its outbox record appended and synced, and only then is the C-STORE response sent. C-ECHO is
answered at once. The AE never initiates associations while serving (\`storescp echo\` is a separate
command-line verification SCU).

### 3.2 AE specification: Storage SCP AE

#### 3.2.1 SOP classes

As SCP: Verification (\`${VERIFICATION_SOP_CLASS}\`) and every Storage SOP Class of DICOM PS3.4 Annex B as of
the 2024d edition, retired ones included. The list is generated from the same registry the negotiation
uses (src/dicom/sop-classes.ts):

<details><summary>${storage.length} Storage SOP Classes, and ${retired.length} retired ones</summary>

${table(
  ["SOP class", "UID"],
  [...storage, ...retired].map((c) => [`${c.name}${c.retired ? " (retired)" : ""}`, c.uid]),
)}

</details>

With \`scp.promiscuous: true\` (DCMTK's \`-pm\`) any other abstract syntax is accepted too and stored the
same way.

#### 3.2.2 Association policies

- Application context: \`${DICOM_APPLICATION_CONTEXT}\` only.
- Number of associations: up to \`scp.max_associations\` (default ${d.scp.max_associations}) at once, at most
  \`scp.max_associations_per_address\` (default ${d.scp.max_associations_per_address}) from one address; or
  one at a time with \`scp.mode: sequential\` (others wait in the TCP backlog).
- Maximum PDU length received: \`scp.max_pdu_length\` (default ${d.scp.max_pdu_length}; 0 = unlimited).
  Larger P-DATA-TF PDUs are accepted unless \`scp.strict\`, which aborts the association.
- Asynchronous operations window: answered 1/1 (operations are performed in order).
- SCP/SCU role selection: the requestor may be SCU; an association proposing us only as SCU for a
  context gets that context rejected (user rejection).
- Extended and common extended negotiation: not supported (no reply item).
- User identity (PS3.7 D.3.3.7): types 1 and 2 checked against the tenant's \`users\` when it lists any;
  the positive response is sent empty when asked for.
- Timers: ARTIM \`scp.artim_timeout_s\` (default ${d.scp.artim_timeout_s} s) for the A-ASSOCIATE-RQ, the
  release and the TLS handshake; \`scp.idle_timeout_s\` (default ${d.scp.idle_timeout_s} s) without a PDU
  aborts an association with no operation in progress.
- The state machine is PS3.8 Table 9-10; any protocol error is answered with A-ABORT.

Association rejections (A-ASSOCIATE-RJ, PS3.8 Table 9-21):

${table(["Result", "Source", "Reason", "Name", "When"], rejectRows)}

#### 3.2.3 Association acceptance: presentation contexts

For each proposed presentation context the transfer syntax accepted is **the first one the requestor
lists among those below**, so a sender that prefers its own (compressed) syntax stays bit-preserving.
With \`scp.uncompressed_only: true\` only the native syntaxes are accepted (DCMTK's \`+xa\` clears it).
An instance whose syntax is not in \`transcode.supported_transfer_syntaxes\` is stored as received and
then transcoded to \`transcode.target\` (default Explicit VR Little Endian) when a decoder exists; the
response waits for that.

${table(["Transfer syntax", "UID", "With uncompressed_only", "Can be transcoded from", "Transcoding target"], tsRows)}

${
  refused.length === 0
    ? "Every transfer syntax of PS3.6 Table A-1 is accepted (stored as received)."
    : `Not accepted: ${refused.map((t) => `${t.name} (\`${t.uid}\`)`).join(", ")}.`
}

Presentation context results: acceptance (0), user rejection (1, SCP role only), no reason (2, an even or
repeated context ID), abstract syntax not supported (3), transfer syntaxes not supported (4).

#### 3.2.4 SOP specific conformance: Storage (C-STORE SCP)

- Storage level 2 (full): every element is kept. The data set is written exactly as received (bit
  preserving) after a File Meta Information built by storescp (Implementation Class UID and Version
  Name above; Source, Sending and Receiving AE titles). Exception: a transcoded instance (above); a
  lossy target (JPEG Baseline) makes a new instance with a new SOP Instance UID, Lossy Image
  Compression 01 and Source Image Sequence, as PS3.3 C.7.6.1.1.5 requires.
- Required: the Type 1 SOP Class, SOP Instance, Study Instance and Series Instance UIDs, matching the
  command. Patient ID and Study Date (Type 2) are not required by default: an instance without them is
  stored and answered Success (the record lists warnings); \`storage.require\` makes them required.
- Duplicates (same SOP Instance UID): \`storage.on_duplicate\` overwrite (default), keep or reject.
- Success is answered only once the file and its outbox record are durable (\`storage.fsync\`,
  default on). An instance that may not be stored is kept in \`storage.quarantine\` with a
  \`.reason.json\`: nothing a modality sent is discarded silently.
- C-STORE response statuses; failures carry an Error Comment (0000,0902) of at most 64 characters:

${table(["Status", "Meaning", "When"], statusRows)}

- C-CANCEL is accepted and ignored (no operation to cancel).

#### 3.2.5 SOP specific conformance: Verification (C-ECHO SCP)

C-ECHO on the Verification context is answered Success (${hex4(Status.Success)}).

### 3.3 Network interfaces

TCP/IP over IPv4 and IPv6 (\`scp.host\`, default \`${d.scp.host}\`). DICOM TLS (PS3.15 B.1) with
\`scp.tls\`: on \`scp.port\`, or on its own \`scp.tls.port\` beside the plain one.

### 3.4 Configuration

AE title, port, limits, timers, storage, transcoding and tenants are set in a YAML file (config/site.yaml
documents every key with its default) and by command-line flags (docs/cli.md). The Rust original's
application.json is read too.

## 4. Media interchange

Not supported.

## 5. Support of character sets

Data sets are stored as received, whatever their Specific Character Set (0008,0005). Only Patient ID
and Accession Number are decoded, for the outbox record and the logs: as UTF-8 with ISO_IR 192, else as
Latin-1.

## 6. Security

- DICOM TLS: TLS 1.2 (\`scp.tls.min_version\`, default ${d.scp.tls === null ? "TLSv1.2" : d.scp.tls.min_version})
  with the BCP 195 suites below (forward secrecy, AEAD), or TLS 1.3; TLS 1.0 and 1.1 are refused. With
  \`require_client_cert\` (default true) a client certificate from \`scp.tls.ca\` is required.
  TLS 1.2 suites: ${BCP195_TLS12_CIPHERS.split(":")
    .map((c) => `\`${c}\``)
    .join(", ")}.
- Access control per tenant: called AE title, calling AE titles, source networks, TLS client certificate
  subjects, user identity (scrypt hashes).
- The license certificate is checked at start; once it expires, new associations are rejected.

## 7. Annexes

- IOD contents: none created, except the derived instance of a lossy transcode (section 3.2.4).
- Data dictionary: no private attributes are created.
- Coercion of attributes: none (bit-preserving); File Meta Information is always written by storescp.
`;
}

if (import.meta.main) {
  writeFileSync(CONFORMANCE_PATH, conformanceStatement());
  process.stdout.write(`${CONFORMANCE_PATH}\n`);
}
