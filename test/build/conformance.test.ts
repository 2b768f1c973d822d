// docs/conformance-statement.md is generated from the tables the code runs on (build/gen-conformance.ts):
// the committed file must be what the generator makes now, or the statement has drifted from the product.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { CONFORMANCE_PATH, conformanceStatement } from "../../build/gen-conformance.ts";

test("docs/conformance-statement.md is up to date (regenerate: npx bun build/gen-conformance.ts)", () => {
  const made = conformanceStatement();
  expect(readFileSync(CONFORMANCE_PATH, "utf8") === made).toBe(true);
  // PS3.2's parts are all there.
  for (const heading of [
    "## 1. Conformance statement overview",
    "### 3.1 Implementation model",
    "#### 3.2.1 SOP classes",
    "#### 3.2.2 Association policies",
    "#### 3.2.3 Association acceptance: presentation contexts",
    "#### 3.2.4 SOP specific conformance: Storage (C-STORE SCP)",
    "## 6. Security",
  ])
    expect(made).toContain(heading);
  expect(made).toContain("| A900 | Error: Data Set does not match SOP Class |");
});
