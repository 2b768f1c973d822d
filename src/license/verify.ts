// License verification (docs/cli.md, License) with @peculiar/x509: the license certificate (PEM or DER; a PEM file may
// carry intermediate CAs after it) must chain to the vendor CA embedded in the binary, be within its
// validity period, carry license.client_id as subject CN and license.license_key in the hash code
// extension 1.3.6.1.4.15967132172.1. Every failure is a LicenseError with a one-line reason that names
// what failed and never shows the license key.
//
// The extension's value (the content of extnValue) is decoded as a DER UTF8String, PrintableString,
// IA5String, VisibleString, TeletexString or BMPString (its text), or an OCTET STRING (its bytes as
// UTF-8 text, and as lower-case hex); anything else is taken as raw bytes (UTF-8 text, and hex). The key
// matches if it equals any of these, compared in constant time.

import { createHash, timingSafeEqual } from "node:crypto";
import { daysLeft, EXPIRY_WARNING_DAYS, LicenseError, type LicenseInfo } from "./info.ts";
import { type X509, x509 } from "./x509.ts";

export const LICENSE_EXTENSION_OID = "1.3.6.1.4.15967132172.1";
const MAX_CHAIN = 8;

export { daysLeft, EXPIRY_WARNING_DAYS, LicenseError, type LicenseInfo };

export interface LicenseInput {
  /** The license certificate file's bytes (PEM or DER). */
  certificate: Uint8Array;
  clientId: string;
  licenseKey: string;
  /** The vendor CA certificate (PEM). */
  vendorCaPem: string;
  now?: Date;
}

/** Every certificate of a PEM file (in order), or the one of a DER file. */
export function parseCertificates(bytes: Uint8Array): X509.X509Certificate[] {
  const text = new TextDecoder("latin1").decode(bytes);
  try {
    if (text.includes("-----BEGIN CERTIFICATE-----")) {
      const ders = x509.PemConverter.decodeWithHeaders(text)
        .filter((p) => p.type === "CERTIFICATE")
        .map((p) => p.rawData);
      if (ders.length > 0) return ders.map((d) => new x509.X509Certificate(d));
    }
    return [new x509.X509Certificate(bytes.slice().buffer)];
  } catch (err) {
    throw new LicenseError(`not a certificate (PEM or DER): ${(err as Error).message}`);
  }
}

function sameText(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a, "utf8").digest();
  const hb = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(ha, hb);
}

/** The DER TLV at the start of `b`: tag, content, and whether it spans exactly all of `b`. */
function derTlv(b: Uint8Array): { tag: number; content: Uint8Array } | null {
  if (b.length < 2) return null;
  const tag = b[0] as number;
  let len = b[1] as number;
  let pos = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || b.length < 2 + n) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[2 + i] as number);
    pos = 2 + n;
  }
  if (pos + len !== b.length) return null;
  return { tag, content: b.subarray(pos) };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function textOf(b: Uint8Array): string | null {
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** The values the hash code extension may stand for (see the file comment). */
export function hashCodeCandidates(value: Uint8Array): string[] {
  const tlv = derTlv(value);
  if (tlv) {
    switch (tlv.tag) {
      case 0x0c: // UTF8String
      case 0x13: // PrintableString
      case 0x16: // IA5String
      case 0x1a: // VisibleString
      case 0x14: // TeletexString (its bytes as Latin-1)
        return [
          tlv.tag === 0x14 ? new TextDecoder("latin1").decode(tlv.content) : (textOf(tlv.content) ?? ""),
        ];
      case 0x1e: {
        // BMPString: UTF-16 big endian
        const c = tlv.content;
        let s = "";
        for (let i = 0; i + 1 < c.length; i += 2)
          s += String.fromCharCode(((c[i] as number) << 8) | (c[i + 1] as number));
        return [s];
      }
      case 0x04: {
        const t = textOf(tlv.content);
        return t === null ? [hex(tlv.content)] : [t, hex(tlv.content)];
      }
    }
  }
  const t = textOf(value);
  return t === null ? [hex(value)] : [t, hex(value)];
}

async function signedBy(cert: X509.X509Certificate, issuer: X509.X509Certificate): Promise<boolean> {
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

function isCa(cert: X509.X509Certificate): boolean {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  return bc?.ca === true;
}

const day = (d: Date): string => d.toISOString().slice(0, 10);

function checkValidity(cert: X509.X509Certificate, now: Date, what: string): void {
  if (now < cert.notBefore)
    throw new LicenseError(`${what} is not yet valid (valid from ${cert.notBefore.toISOString()})`);
  if (now > cert.notAfter) throw new LicenseError(`${what} expired on ${cert.notAfter.toISOString()}`);
}

/** Verify a license; resolves with what it says, or rejects with a LicenseError. */
export async function verifyLicense(input: LicenseInput): Promise<LicenseInfo> {
  const now = input.now ?? new Date();
  let ca: X509.X509Certificate;
  try {
    ca = new x509.X509Certificate(input.vendorCaPem);
  } catch (err) {
    throw new LicenseError(`the embedded vendor CA is not a certificate: ${(err as Error).message}`);
  }
  const certs = parseCertificates(input.certificate);
  const leaf = certs[0] as X509.X509Certificate;
  const intermediates = certs.slice(1);

  // Chain: from the license certificate through the file's intermediates to the vendor CA.
  const chain: string[] = [];
  let current = leaf;
  for (let depth = 0; ; depth++) {
    chain.push(current.subject);
    if (depth >= MAX_CHAIN) throw new LicenseError(`certificate chain longer than ${MAX_CHAIN}`);
    const what = depth === 0 ? "license certificate" : `intermediate CA "${current.subject}"`;
    if (current.issuer === ca.subject) {
      if (!(await signedBy(current, ca))) {
        throw new LicenseError(
          `signature of the ${what} does not verify against the vendor CA (tampered, or another CA)`,
        );
      }
      break;
    }
    const issuer = intermediates.find((c) => c.subject === current.issuer && !chain.includes(c.subject));
    if (!issuer) {
      throw new LicenseError(
        `not issued by the vendor CA: no path from issuer "${current.issuer}" to "${ca.subject}"`,
      );
    }
    if (!isCa(issuer)) throw new LicenseError(`intermediate "${issuer.subject}" is not a CA certificate`);
    if (!(await signedBy(current, issuer))) {
      throw new LicenseError(
        `signature of the ${what} does not verify against "${issuer.subject}" (tampered)`,
      );
    }
    checkValidity(issuer, now, `intermediate CA "${issuer.subject}"`);
    current = issuer;
  }
  checkValidity(ca, now, "the embedded vendor CA");
  checkValidity(leaf, now, "license certificate");

  const cn = leaf.subjectName.getField("CN")[0] ?? "";
  if (!sameText(cn, input.clientId)) {
    throw new LicenseError(`subject CN "${cn}" does not match license.client_id "${input.clientId}"`);
  }
  const ext = leaf.getExtension(LICENSE_EXTENSION_OID);
  if (!ext)
    throw new LicenseError(`no hash code extension ${LICENSE_EXTENSION_OID} in the license certificate`);
  const candidates = hashCodeCandidates(new Uint8Array(ext.value));
  // Compare against every candidate (no early exit): the time does not depend on which one matched.
  let match = false;
  for (const c of candidates) match = sameText(c, input.licenseKey) || match;
  if (!match || input.licenseKey === "") {
    throw new LicenseError(`hash code extension ${LICENSE_EXTENSION_OID} does not match license.license_key`);
  }
  return {
    clientId: cn,
    subject: leaf.subject,
    issuer: leaf.issuer,
    serialNumber: leaf.serialNumber,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    chain,
  };
}

export function describe(info: LicenseInfo, now = new Date()): string {
  return `client ${info.clientId}, valid ${day(info.notBefore)} .. ${day(info.notAfter)} (${daysLeft(info, now)} days left)`;
}
