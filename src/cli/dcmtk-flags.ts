// DCMTK storescp's habits. Its options are words after one dash (-od, -aet) or a plus (+xa), which a
// parser of clustered short flags would take apart (-od as -o d: files into ./d). They are looked up
// as whole words first and replaced by ours where the meaning is the same; DCMTK's other options are
// refused by name with a hint where their concern lives here; anything else of that form is refused,
// never split.

import { UsageError } from "./usage.ts";

/** DCMTK storescp options with the same meaning here, as our flags (null: what we always do). */
const DCMTK_ALIASES: Readonly<Record<string, string | null>> = {
  "-aet": "--ae-title",
  "--aetitle": "--ae-title",
  "-od": "--output-directory",
  "-pm": "--promiscuous",
  "+xa": "--accept-all",
  "-pdu": "--max-pdu-length",
  "--max-pdu": "--max-pdu-length",
  "--fork": "--fork",
  "--single-process": "--sequential",
  "-d": "--verbose",
  "--debug": "--verbose",
  // Always so here: the data set is stored as received, in a Part-10 file.
  "+B": null,
  "--bit-preserving": null,
  "+F": null,
  "--write-file": null,
};

/** Where the concern of a DCMTK-only option lives here, for the message that refuses it. */
const DCMTK_HINTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^(-q|--quiet|-ll|--log-level|-lc|--log-config|\+v|--verbose-pc)$/, "logging.level in the config"],
  [/^(-ta|--acse-timeout)$/, "scp.artim_timeout_s in the config"],
  [/^(-td|--dimse-timeout|-ts|--socket-timeout)$/, "scp.idle_timeout_s in the config"],
  [/^[-+](tls|ps|pw|pem|der|cf|cd|crl|crv|cra|py|px|pz|pa|pn|cc|cs|dp|rc|vc|ic)$/, "scp.tls in the config"],
  [
    /^[-+]x[a-z0-9=]$|^-xf$|^--(prefer-|implicit|config-file)/,
    "every known syntax is accepted; see transcode",
  ],
  [
    /^(-ss|-su|-sp|[-+]uf|-tn|-fe|--sort-|--default-filenames|--unique-filenames|--timenames|--filename-extension)/,
    "storage.path in the config",
  ],
  [
    /^(-xcr|-xcs|-rns|-tos|-xs|--exec-|--rename-on-eostudy|--eostudy-timeout)/,
    "the hook is each instance's outbox record: Kafka or outbox export",
  ],
];

/** DCMTK storescp 3.6 options (beyond the aliases): refused with a message instead of misread. */
const DCMTK_ONLY = new Set(
  (
    "-q --quiet -ll --log-level -lc --log-config +v --verbose-pc --arguments -xf --config-file " +
    "+x= +xe +xb +xs +xy +xx +xv +xw +xt +xu +xm +xh +xn +xl +x2 +x3 +xo +x4 +x5 +xr +xd +xi " +
    "--prefer-uncompr --prefer-little --prefer-big --prefer-lossless --prefer-jpeg8 --prefer-jpeg12 " +
    "--prefer-j2k-lossless --prefer-j2k-lossy --prefer-jls-lossless --prefer-jls-lossy --prefer-mpeg2 " +
    "--prefer-mpeg2-high --prefer-mpeg4 --prefer-mpeg4-bd --prefer-mpeg4-2-2d --prefer-mpeg4-2-3d " +
    "--prefer-mpeg4-2-st --prefer-hevc --prefer-hevc10 --prefer-rle --prefer-deflated --implicit " +
    "-ac --access-full +ac --access-control -id --inetd -ts --socket-timeout -ta --acse-timeout " +
    "-td --dimse-timeout -dhl --disable-host-lookup --refuse --reject --ignore --sleep-after " +
    "--sleep-during --abort-after --abort-during -up --uid-padding -tls --disable-tls +tls --enable-tls " +
    "+ps --std-passwd +pw --use-passwd -pw --null-passwd -pem --pem-keys -der --der-keys +cf " +
    "--add-cert-file +cd --add-cert-dir +crl --add-crl-file +crv --enable-crl-vfy +cra --enable-crl-all " +
    "+py --profile-bcp195-nd +px --profile-bcp195 +pz --profile-bcp195-ex +pa --profile-aes +pn " +
    "--profile-null +cc --list-ciphers +cs --cipher +dp --dhparam +rs --seed +ws --write-seed +wf " +
    "--write-seed-file -rc --require-peer-cert -vc --verify-peer-cert -ic --ignore-peer-cert -B --normal " +
    "-F --write-dataset +t= +te +tb +ti +td --write-xfer-same --write-xfer-little --write-xfer-big " +
    "--write-xfer-implicit --write-xfer-deflated +u --enable-new-vr -u --disable-new-vr +g= " +
    "--group-length-recalc +g --group-length-create -g --group-length-remove +e --length-explicit " +
    "-e --length-undefined --padding-off +p --padding-create -uc --retain-un +uc --convert-un +cl " +
    "--compression-level -ss --sort-conc-studies -su --sort-on-study-uid -sp --sort-on-patientname " +
    "-uf --default-filenames +uf --unique-filenames -tn --timenames -fe --filename-extension " +
    "-xcr --exec-on-reception -xcs --exec-on-eostudy -rns --rename-on-eostudy -tos --eostudy-timeout " +
    "-xs --exec-sync"
  ).split(" "),
);

/** Our serve options that take a value: the word after them is a value, never an option. */
const VALUE_FLAGS = new Set([
  "-c",
  "--config",
  "-p",
  "--port",
  "--ae-title",
  "--calling-ae-title",
  "-m",
  "--max-pdu-length",
  "-o",
  "--output-directory",
  "--host",
]);

/** Our boolean short flags that may be clustered (-sv), as the Rust original's parser allowed. */
const CLUSTERABLE = new Set(["s", "v"]);

/** DCMTK's words replaced by our flags; DCMTK-only and unknown single-dash words refused whole. */
export function translateDcmtk(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const t = args[i] ?? "";
    if (Object.hasOwn(DCMTK_ALIASES, t)) {
      const ours = DCMTK_ALIASES[t] ?? null;
      if (ours === null) continue;
      out.push(ours);
      if (VALUE_FLAGS.has(ours) && i + 1 < args.length) out.push(args[++i] ?? "");
      continue;
    }
    const word = t.split("=")[0] ?? t;
    if (DCMTK_ONLY.has(t) || DCMTK_ONLY.has(word)) {
      const hint = DCMTK_HINTS.find(([re]) => re.test(word))?.[1];
      throw new UsageError(
        `DCMTK's ${word} has no equivalent here; see --help${hint !== undefined ? ` (${hint})` : ""}`,
      );
    }
    if (t.startsWith("+") && !/^\+?[0-9]+$/.test(t)) {
      throw new UsageError(`unknown option ${t} (see storescp --help)`);
    }
    if (/^-[A-Za-z]/.test(t) && t.length > 2 && !t.startsWith("--")) {
      const letters = t.slice(1);
      const clustered = [...letters].every((c) => CLUSTERABLE.has(c));
      const attachedNumber = /^[pm][0-9]+$/.test(letters);
      if (!clustered && !attachedNumber) throw new UsageError(`unknown option ${t} (see storescp --help)`);
    }
    out.push(t);
    if (VALUE_FLAGS.has(t) && i + 1 < args.length) out.push(args[++i] ?? "");
  }
  return out;
}
