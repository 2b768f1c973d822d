// `storescp init [DIR]`: a commented site.yaml to start from (never over an existing one), and
// `storescp config convert FILE`: the Rust original's application.json as the equivalent site.yaml.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError } from "../config/error.ts";
import { readConfig } from "../config/load.ts";
import { fromRustConfig, isRustConfig } from "../config/rust-json.ts";
import { initSiteYaml, siteYaml } from "../config/site-template.ts";
import { UsageError } from "./usage.ts";

type Out = (line: string) => void;
const stdout: Out = (l) => process.stdout.write(`${l}\n`);

export function initCommand(dir: string, out: Out = stdout): number {
  const file = join(dir, "site.yaml");
  if (existsSync(file))
    throw new UsageError(`init: ${file} exists; not overwritten (remove it or pick a DIR)`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, initSiteYaml(), { flag: "wx", mode: 0o600 });
  out(`wrote ${resolve(file)}: every key with its default; the SCP listens on 127.0.0.1 to begin with`);
  out(`start it:  storescp --config ${file}`);
  out("test it:   echoscu -aec STORESCP 127.0.0.1 11112   (DCMTK), or: storescp echo 127.0.0.1 11112");
  return 0;
}

export function convertCommand(
  file: string,
  out: (text: string) => void = (t) => process.stdout.write(t),
): number {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(code === "ENOENT" ? "no such file" : `not JSON: ${(err as Error).message}`, file);
  }
  if (!isRustConfig(data))
    throw new ConfigError("not the Rust original's application.json (no dicom_store_scp object)", file);
  // Checked as the server would read it: a value it would refuse is refused here, with its position.
  readConfig(file);
  const converted = fromRustConfig(data as Record<string, unknown>);
  const header = [
    `Converted from ${file} (the Rust original's application.json) by \`storescp config convert\`.`,
    "Relative paths are resolved against the directory of this file: keep it beside the original.",
  ];
  if (converted.unused.length > 0) header.push(`Not used by a Storage SCP: ${converted.unused.join(", ")}.`);
  for (const n of converted.notes) header.push(`${n}.`);
  out(siteYaml(converted.tree, header));
  return 0;
}
