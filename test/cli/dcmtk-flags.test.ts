// DCMTK storescp's options (src/cli/dcmtk-flags.ts): the same meaning where we have one, refused by
// name otherwise, never split into clustered short flags.

import { describe, expect, test } from "bun:test";
import { parseArgs } from "../../src/cli/args.ts";
import { serve, usageError } from "../helpers/cli-args.ts";

describe("serve", () => {
  test("DCMTK storescp habits, with DCMTK's meaning", () => {
    expect(parseArgs(["-aet", "X", "-od", "/srv/in", "104"])).toEqual(
      serve({ ae_title: "X", storage_root: "/srv/in", port: 104 }),
    );
    // -od is never -o d, -pm never -p m.
    expect(parseArgs(["-od", "d"])).toEqual(serve({ storage_root: "d" }));
    expect(parseArgs(["-pm", "+xa", "-pdu", "16384", "--fork"])).toEqual(
      serve({ promiscuous: true, uncompressed_only: false, max_pdu_length: 16384, mode: "concurrent" }),
    );
    expect(parseArgs(["--aetitle", "Y", "--max-pdu", "4096", "--accept-all"])).toEqual(
      serve({ ae_title: "Y", max_pdu_length: 4096, uncompressed_only: false }),
    );
    expect(parseArgs(["--single-process", "-d", "+B", "+F", "11112"])).toEqual(
      serve({ mode: "sequential", verbose: true, port: 11112 }),
    );
    expect(parseArgs(["--host", "127.0.0.1"])).toEqual(serve({ host: "127.0.0.1" }));
  });

  test("other DCMTK options are refused by name, with a hint; unknown single-dash words are never split", () => {
    expect(usageError(["-xcr", "echo"]).message).toBe(
      "DCMTK's -xcr has no equivalent here; see --help (the hook is each instance's outbox record: Kafka or outbox export)",
    );
    expect(usageError(["+xs"]).message).toMatch(/^DCMTK's \+xs has no equivalent here; see --help/);
    expect(usageError(["--sort-on-study-uid", "st"]).message).toMatch(/storage\.path/);
    expect(usageError(["-ta", "10"]).message).toMatch(/scp\.artim_timeout_s/);
    expect(usageError(["+tls", "k", "c"]).message).toMatch(/scp\.tls/);
    expect(usageError(["--ignore"]).message).toBe("DCMTK's --ignore has no equivalent here; see --help");
    expect(usageError(["-odx"]).message).toBe("unknown option -odx (see storescp --help)");
    expect(usageError(["-ox"]).message).toBe("unknown option -ox (see storescp --help)");
    expect(usageError(["+xz"]).message).toBe("unknown option +xz (see storescp --help)");
    expect(usageError(["--uncompressed-only", "+xa"]).message).toMatch(/contradict/);
    expect(usageError(["--sequential", "--fork"]).message).toMatch(/contradict/);
    expect(usageError(["--host", "bad host"]).message).toMatch(/^--host: /);
    // The value of an option is a value, even when it looks like an option.
    expect(parseArgs(["-o", "-weird-dir"])).toEqual(serve({ storage_root: "-weird-dir" }));
  });
});
