// A throwaway PKI for the tests, made with @peculiar/x509 and WebCrypto: CAs, intermediates, TLS server
// and client certificates, and license certificates. Nothing here is ever written outside test/.work.

import { webcrypto } from "node:crypto";
import { type X509, x509 } from "../../src/license/x509.ts";

const ALG: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
};
const DAY = 24 * 60 * 60 * 1000;

export interface Issued {
  cert: X509.X509Certificate;
  keys: CryptoKeyPair;
  /** PEM of the certificate. */
  pem: string;
  /** PKCS#8 PEM of the private key. */
  keyPem: string;
}

export interface IssueOptions {
  /** Distinguished name, e.g. "CN=Test CA". */
  subject: string;
  /** The issuing CA; none: self-signed. */
  issuer?: Issued;
  ca?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  /** Subject alternative names (DNS names or IP addresses), for TLS server certificates. */
  dnsNames?: string[];
  ipAddresses?: string[];
  /** TLS usage: "server" | "client". */
  usage?: "server" | "client";
  extensions?: X509.Extension[];
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

export async function issue(o: IssueOptions): Promise<Issued> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(o.ca ?? false, undefined, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (o.ca) {
    extensions.push(
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    );
  } else {
    extensions.push(
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
        true,
      ),
    );
  }
  if (o.issuer) {
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(o.issuer.keys.publicKey));
  }
  if (o.usage) {
    extensions.push(
      new x509.ExtendedKeyUsageExtension([
        o.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
    );
  }
  const names: X509.JsonGeneralName[] = [
    ...(o.dnsNames ?? []).map((v) => ({ type: "dns" as const, value: v })),
    ...(o.ipAddresses ?? []).map((v) => ({ type: "ip" as const, value: v })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  extensions.push(...(o.extensions ?? []));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8)))
      .toString("hex")
      .replace(/^[89a-f]/, "1"),
    subject: o.subject,
    issuer: o.issuer ? o.issuer.cert.subject : o.subject,
    notBefore: o.notBefore ?? new Date(Date.now() - DAY),
    notAfter: o.notAfter ?? new Date(Date.now() + 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: (o.issuer ?? { keys }).keys.privateKey,
    signingAlgorithm: ALG,
    extensions,
  });
  return { cert, keys, pem: cert.toString("pem"), keyPem: await keyPem(keys) };
}

/** The license hash-code extension, its value a DER UTF8String (or given raw DER bytes). */
export const LICENSE_OID = "1.3.6.1.4.15967132172.1";

export function utf8StringDer(text: string): Uint8Array {
  const body = new TextEncoder().encode(text);
  if (body.length > 127) throw new Error("test helper: short form only");
  return new Uint8Array([0x0c, body.length, ...body]);
}

export function licenseExtension(value: Uint8Array): X509.Extension {
  return new x509.Extension(LICENSE_OID, false, value);
}

export { x509 };
export const days = (n: number): Date => new Date(Date.now() + n * DAY);
