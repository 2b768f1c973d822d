// The --help text, grouped by concern like DCMTK's storescp: one line per option, its default in
// brackets; `storescp help COMMAND` shows one command's usage and options.

import { DEFAULTS } from "../config/defaults.ts";
import { ECHO_DEFAULT_CALLED, ECHO_DEFAULT_CALLING, type Subcommand } from "./usage.ts";
import { versionText } from "./version.ts";

type Row = readonly [flags: string, what: string, dflt?: string];

const d = DEFAULTS;
const onOff = (b: boolean) => (b ? "on" : "off");

const SERVE_GROUPS: readonly (readonly [string, readonly Row[]])[] = [
  [
    "general options",
    [
      ["-h, --help", "print this help and exit"],
      ["-V, --version", "print the version and exit"],
      ["-c, --config FILE", "YAML config file; the flags below override it", "embedded defaults"],
      ["-v, --verbose", "log at debug level (logging.level)", d.logging.level],
    ],
  ],
  [
    "network options",
    [
      ["-p, --port N", "TCP port to listen on (or a bare PORT), 0 = any free one", String(d.scp.port)],
      ["    --host ADDR", "address to listen on (scp.host); 127.0.0.1 = this PC only", d.scp.host],
      ["    --ae-title AET", "AE title of the default tenant (scp.ae_title)", d.scp.ae_title],
      ["    --calling-ae-title AET", "same as --ae-title (the Rust original's name)"],
      [
        "-m, --max-pdu-length N",
        "PDU size we receive: 4096..131072, 0 = unlimited",
        String(d.scp.max_pdu_length),
      ],
      ["-s, --strict", "abort associations sending PDUs larger than announced", onOff(d.scp.strict)],
      ["    --sequential", "one association at a time (scp.mode)", d.scp.mode],
      ["-n, --non-blocking [BOOL]", "true: concurrent associations; false: same as --sequential", "true"],
    ],
  ],
  [
    "negotiation options",
    [
      ["    --uncompressed-only", "accept only native transfer syntaxes", onOff(d.scp.uncompressed_only)],
      ["    --promiscuous", "accept unknown (non-storage) SOP classes too", onOff(d.scp.promiscuous)],
    ],
  ],
  [
    "storage options",
    [
      [
        "-o, --output-directory DIR",
        "storage root, relative to the working dir (storage.root)",
        d.storage.root,
      ],
    ],
  ],
  [
    "DCMTK storescp options (same meaning; other DCMTK options are refused with a hint)",
    [
      ["-aet AET", "= --ae-title"],
      ["-od DIR", "= --output-directory"],
      ["-pm", "= --promiscuous"],
      ["+xa", "accept every known transfer syntax (clears uncompressed_only)"],
      ["-pdu N", "= --max-pdu-length"],
      ["--fork", "concurrent associations (= -n true; the default)"],
      ["--single-process", "= --sequential"],
      ["-d, --debug", "= --verbose"],
      ["+B, +F", "accepted: always so here (bit-preserving Part-10 files)"],
    ],
  ],
];

const COMMANDS: readonly (readonly [Subcommand | "serve", string, string])[] = [
  ["serve", "storescp [options] [PORT]", "run the Storage SCP (the default)"],
  ["echo", "storescp echo HOST PORT [--called AET] [--calling AET]", "send a C-ECHO, for checks"],
  [
    "outbox",
    "storescp outbox status|drain|export DIR|import DIR [-c FILE]",
    "inspect or move the Kafka outbox",
  ],
  ["license", "storescp license show|verify [-c FILE]", "show or check the license"],
  ["init", "storescp init [DIR]", "write a commented site.yaml"],
  ["config", "storescp config convert FILE", "Rust original's JSON -> site.yaml"],
  ["transcode", "storescp transcode IN OUT [--ts UID]", "transcode a DICOM file offline"],
  ["hash-password", "storescp hash-password", "scrypt-hash a password from stdin"],
  ["help", "storescp help [COMMAND] | --help | --version", "this help, or the version"],
];

const SUB_GROUPS: Partial<Record<Subcommand, readonly Row[]>> = {
  echo: [
    ["    --called AET", "AE title of the SCP called", ECHO_DEFAULT_CALLED],
    ["    --calling AET", "our AE title", ECHO_DEFAULT_CALLING],
  ],
  outbox: [
    ["-c, --config FILE", "config file (outbox.dir, kafka)", "embedded defaults"],
    ["    --with-files", "export: each record's DICOM file goes too", "records only"],
    ["    --max-bundle-mb N", "export: volumes of at most N MiB (FAT32: < 4096)", "4000"],
    ["    --files-to ROOT", "import: root for the files (a tenant's own root wins)", "storage.root"],
    ["    --bundle DIR", "status: what a bundle holds, whether it verifies", "the outbox"],
  ],
  license: [["-c, --config FILE", "config file (license)", "embedded defaults"]],
  transcode: [["    --ts UID", "transfer syntax to write", `transcode.target: ${d.transcode.target}`]],
};

/** One column for the flags of every group, so the descriptions line up across the whole page. */
const FLAGS_WIDTH =
  Math.max(
    ...[...SERVE_GROUPS.flatMap(([, l]) => l), ...Object.values(SUB_GROUPS).flat()].map((r) => r[0].length),
  ) + 2;

function rows(title: string, list: readonly Row[], width = FLAGS_WIDTH): string[] {
  return [
    `${title}:`,
    ...list.map(
      ([flags, what, dflt]) => `  ${flags.padEnd(width)}${what}${dflt !== undefined ? ` [${dflt}]` : ""}`,
    ),
  ];
}

/** The --help text: everything, or one command's usage and options. */
export function helpText(topic?: Subcommand): string {
  const head = `${versionText()} - DICOM Storage SCP (C-STORE/C-ECHO receiver)`;
  if (topic !== undefined && topic !== "help") {
    const c = COMMANDS.find((x) => x[0] === topic);
    const lines = [head, "", `usage: ${c?.[1] ?? topic}`, `  ${c?.[2] ?? ""}`];
    const opts = SUB_GROUPS[topic];
    if (opts) lines.push("", ...rows(`${topic} options`, opts));
    return `${lines.join("\n")}\n`;
  }
  const usageW = Math.max(...COMMANDS.map((c) => c[1].length)) + 2;
  const lines = [head, "", "usage:", ...COMMANDS.map(([, u, w]) => `  ${u.padEnd(usageW)}${w}`)];
  for (const [title, list] of SERVE_GROUPS) lines.push("", ...rows(title, list));
  for (const [name, list] of Object.entries(SUB_GROUPS)) lines.push("", ...rows(`${name} options`, list));
  lines.push(
    "",
    "Flags override the config file. Without --config, application.<APP_ENV or dev>.json in the working",
    "directory is read if there is one (the Rust original's file), else the embedded defaults apply.",
    "Docs: docs/cli.md, docs/configuration.md, config/site.yaml (every key with its default).",
    "exit status: 0 ok; 2 bad usage, config, license or start-up check; 1 a failed client command",
  );
  return `${lines.join("\n")}\n`;
}
