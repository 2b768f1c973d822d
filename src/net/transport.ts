// The byte transport under an association: a listener and its connections, with just what the Upper
// Layer needs (data in, bytes out, pause/resume for backpressure, end, destroy). Under Bun the native
// socket API is used: node:net's stream layer costs Bun markedly more CPU per received byte. Elsewhere
// node:net, so the code stays portable. Under Bun the transport owns each read's buffer and frees it
// when the read's turn ends (src/util/transient-bytes.ts).
// DICOM TLS (PS3.15 B.1) uses node:tls everywhere (listenTls): the same Connection interface.

import { createServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { releaseChunk, type TransientBytes } from "../util/transient-bytes.ts";

export interface Connection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** TLS: subject CN of the peer's certificate, when one was presented and verified; else null/absent. */
  readonly tlsSubject?: string | null;
  /**
   * A chunk belongs to the receiver until the end of the turn it arrives in (its microtasks
   * included): the transport may free its memory then. Whatever must outlive the turn leaves through
   * one of the exits of src/util/transient-bytes.ts.
   */
  onData: (chunk: TransientBytes) => void;
  onClose: () => void;
  onError: (err: Error) => void;
  /** Bytes written earlier have all been handed to the kernel (unsentBytes is 0 again). */
  onDrain: () => void;
  /** Buffered: bytes the kernel does not take at once are sent when the socket drains. */
  write(bytes: Uint8Array): void;
  /** Written bytes the kernel has not taken yet (the peer is not reading them). */
  readonly unsentBytes: number;
  /** Close after what was written has been sent. */
  end(): void;
  /** Close now. */
  destroy(): void;
  pause(): void;
  resume(): void;
  readonly closed: boolean;
}

export interface Listener {
  readonly port: number;
  close(): void;
}

/** Connections arrive paused: nothing is read until the owner calls resume(). */
export type ConnectionHandler = (c: Connection) => void;

const noop = (): void => {};

interface BunSocket {
  readonly remoteAddress: string;
  readonly remotePort?: number;
  readonly localPort: number;
  data: BunConnection | undefined;
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
}

interface BunListener {
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

interface BunRuntime {
  listen(options: {
    hostname: string;
    port: number;
    socket: {
      open(s: BunSocket): void;
      data(s: BunSocket, d: Uint8Array): void;
      drain(s: BunSocket): void;
      close(s: BunSocket, err?: Error): void;
      error(s: BunSocket, err: Error): void;
    };
  }): BunListener;
}

class BunConnection implements Connection {
  onData: (chunk: TransientBytes) => void = noop;
  onClose: () => void = noop;
  onError: (err: Error) => void = noop;
  onDrain: () => void = noop;
  closed = false;
  unsentBytes = 0;
  private unsent: Uint8Array[] = [];
  private ending = false;
  readonly remoteAddress: string;
  readonly remotePort: number;

  constructor(private readonly socket: BunSocket) {
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort ?? 0;
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.unsent.length > 0) {
      this.unsent.push(bytes);
      this.unsentBytes += bytes.length;
      return;
    }
    const n = this.socket.write(bytes);
    if (n < 0) return;
    if (n < bytes.length) {
      this.unsent.push(bytes.subarray(n));
      this.unsentBytes += bytes.length - n;
    }
  }

  drained(): void {
    while (this.unsent.length > 0) {
      const head = this.unsent[0] as Uint8Array;
      const n = this.socket.write(head);
      if (n < 0) return;
      this.unsentBytes -= Math.max(0, n);
      if (n < head.length) {
        this.unsent[0] = head.subarray(n);
        return;
      }
      this.unsent.shift();
    }
    this.onDrain();
    if (this.ending) this.socket.end();
  }

  end(): void {
    if (this.closed) return;
    this.ending = true;
    if (this.unsent.length === 0) this.socket.end();
  }

  destroy(): void {
    if (this.closed) return;
    this.socket.terminate();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

class NodeConnection implements Connection {
  onData: (chunk: TransientBytes) => void = noop;
  onClose: () => void = noop;
  onError: (err: Error) => void = noop;
  onDrain: () => void = noop;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly tlsSubject: string | null;

  constructor(
    private readonly socket: Socket,
    tlsSubject: string | null = null,
  ) {
    this.remoteAddress = socket.remoteAddress ?? "";
    this.remotePort = socket.remotePort ?? 0;
    this.tlsSubject = tlsSubject;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => this.onClose());
    socket.on("error", (err) => this.onError(err));
    socket.on("drain", () => this.onDrain());
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  get unsentBytes(): number {
    return this.socket.writableLength;
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

function bunRuntime(): BunRuntime | undefined {
  if (process.env.STORESCP_TRANSPORT === "node") return undefined;
  return (globalThis as { Bun?: BunRuntime }).Bun;
}

/** Listen on host:port; resolves once bound (port 0 picks a free one). */
export function listenTcp(host: string, port: number, onConnection: ConnectionHandler): Promise<Listener> {
  const bun = bunRuntime();
  if (bun) {
    try {
      const listener = bun.listen({
        hostname: host,
        port,
        socket: {
          open(s) {
            s.pause();
            s.setNoDelay(true);
            const c = new BunConnection(s);
            s.data = c;
            onConnection(c);
          },
          data(s, d) {
            const c = s.data;
            if (!c) return;
            c.onData(d);
            // Queued after every microtask the chunk's own processing queued (FIFO): those run first.
            queueMicrotask(() => releaseChunk(d));
          },
          drain(s) {
            s.data?.drained();
          },
          close(s) {
            const c = s.data;
            if (!c || c.closed) return;
            c.closed = true;
            c.onClose();
          },
          error(s, err) {
            s.data?.onError(err);
          },
        },
      });
      return Promise.resolve({ port: listener.port, close: () => listener.stop(false) });
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return new Promise((resolve, reject) => {
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) =>
      onConnection(new NodeConnection(socket)),
    );
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const addr = server.address();
      resolve({ port: typeof addr === "object" && addr ? addr.port : port, close: () => server.close() });
    });
  });
}

export interface TlsListenOptions {
  /** PEM: our certificate (chain) and its private key. */
  cert: Uint8Array;
  key: Uint8Array;
  /** PEM: the CA(s) client certificates must chain to; null: none (then no client certificates). */
  ca: Uint8Array | null;
  /** Handshake fails without a client certificate that verifies against `ca`. */
  requireClientCert: boolean;
  minVersion: "TLSv1.2" | "TLSv1.3";
  /** A peer that does not finish the handshake within this is dropped (the ARTIM timeout). */
  handshakeTimeoutMs: number;
  /** Called for each failed handshake (logging). */
  onHandshakeError?: (err: Error, remoteAddress: string) => void;
}

/**
 * BCP 195 (RFC 9325) for TLS 1.2: ECDHE key exchange with AEAD ciphers only; TLS 1.3 suites are all
 * acceptable. DCMTK's BCP 195 profiles offer these.
 */
export const BCP195_TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "DHE-RSA-AES128-GCM-SHA256",
  "DHE-RSA-AES256-GCM-SHA384",
].join(":");

function subjectCn(socket: TLSSocket): string | null {
  if (!socket.authorized) return null;
  const cn = socket.getPeerCertificate()?.subject?.CN;
  const first = Array.isArray(cn) ? cn[0] : cn;
  return typeof first === "string" && first !== "" ? first : null;
}

/** A DICOM TLS listener (node:tls): connections arrive after the handshake, paused, like listenTcp's. */
export function listenTls(
  host: string,
  port: number,
  options: TlsListenOptions,
  onConnection: ConnectionHandler,
): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const server = createTlsServer(
      {
        cert: Buffer.from(options.cert),
        key: Buffer.from(options.key),
        ca: options.ca ? Buffer.from(options.ca) : undefined,
        requestCert: options.ca !== null,
        rejectUnauthorized: options.requireClientCert,
        minVersion: options.minVersion,
        ciphers: BCP195_TLS12_CIPHERS,
        honorCipherOrder: true,
        handshakeTimeout: options.handshakeTimeoutMs,
        noDelay: true,
      },
      (socket) => {
        socket.pause();
        onConnection(new NodeConnection(socket, subjectCn(socket)));
      },
    );
    server.on("tlsClientError", (err, socket) => {
      options.onHandshakeError?.(err, socket.remoteAddress ?? "");
      socket.destroy();
    });
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const addr = server.address();
      resolve({ port: typeof addr === "object" && addr ? addr.port : port, close: () => server.close() });
    });
  });
}
