// @peculiar/x509 with what it needs around it: the Reflect metadata shim first, WebCrypto as provider.
// Loaded with a dynamic import: a static one may be linked (CommonJS under Bun) before the shim runs.

import "./reflect-shim.ts";
import { webcrypto } from "node:crypto";
import type * as X509 from "@peculiar/x509";

export type { X509 };

export const x509: typeof X509 = await import("@peculiar/x509");
x509.cryptoProvider.set(webcrypto as unknown as Crypto);
