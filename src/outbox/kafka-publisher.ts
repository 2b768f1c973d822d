// The Publisher over kafkajs: acks -1, the configured compression, our log for kafkajs's lines. Its own
// module, so that kafkajs is loaded only where Kafka is enabled (outbox/service.ts, outbox drain).

// First: kafkajs's request queue is patched before any connection exists (see kafkajs-fix.ts).
import "./kafkajs-fix.ts";
import { readFileSync } from "node:fs";
import {
  CompressionTypes,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
  type SASLOptions,
} from "kafkajs";
import type { Config } from "../config/schema.ts";
import { event, logger } from "../ops/log.ts";
import type { OutMessage, Publisher } from "./publisher.ts";

const kafkaLog = logger("kafka");

export type KafkaSettings = Config["kafka"];

function kafkaLogCreator(): (entry: LogEntry) => void {
  // Our Drainer logs every failure once, with its backoff; kafkajs's own lines go to debug.
  return (entry: LogEntry) => {
    const { message, ...rest } = entry.log;
    event(kafkaLog, "debug", "kafkajs", {
      level: logLevel[entry.level],
      ns: entry.namespace,
      message,
      error: typeof rest.error === "string" ? rest.error : undefined,
      broker: typeof rest.broker === "string" ? rest.broker : undefined,
    });
  };
}

export function kafkaClientConfig(k: KafkaSettings): KafkaConfig {
  const cfg: KafkaConfig = {
    clientId: k.client_id,
    brokers: k.brokers,
    connectionTimeout: 3000,
    requestTimeout: 15_000,
    // Few retries inside kafkajs: the Drainer retries forever with its own backoff.
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 2000 },
    logLevel: logLevel.INFO,
    logCreator: kafkaLogCreator,
  };
  if (k.ssl) {
    cfg.ssl = {
      ca: k.ssl.ca ? readFileSync(k.ssl.ca) : undefined,
      cert: k.ssl.cert ? readFileSync(k.ssl.cert) : undefined,
      key: k.ssl.key ? readFileSync(k.ssl.key) : undefined,
    };
  }
  if (k.sasl) {
    const { mechanism, username, password } = k.sasl;
    const sasl: SASLOptions = { mechanism, username, password };
    cfg.sasl = sasl;
  }
  return cfg;
}

export class KafkaPublisher implements Publisher {
  private readonly kafka: Kafka;
  private producer: Producer | null = null;
  private connecting: Promise<Producer> | null = null;
  private readonly compression: CompressionTypes;
  connected = false;

  constructor(settings: KafkaSettings) {
    this.kafka = new Kafka(kafkaClientConfig(settings));
    this.compression = settings.compression === "none" ? CompressionTypes.None : CompressionTypes.GZIP;
  }

  private async ready(): Promise<Producer> {
    if (this.producer) return this.producer;
    this.connecting ??= (async () => {
      const p = this.kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        // Not idempotent: order comes from one batch in flight at a time, duplicates carry the trace_id.
        idempotent: false,
        maxInFlightRequests: 1,
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 2000 },
      });
      p.on(p.events.DISCONNECT, () => {
        this.connected = false;
      });
      try {
        await p.connect();
      } catch (err) {
        await p.disconnect().catch(() => undefined);
        throw err;
      }
      this.producer = p;
      this.connected = true;
      return p;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  async send(batch: readonly OutMessage[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const m of batch) {
      let list = byTopic.get(m.topic);
      if (!list) {
        list = [];
        byTopic.set(m.topic, list);
      }
      list.push({
        key: m.key,
        value: Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength),
        headers: { trace_id: m.traceId },
      });
    }
    const producer = await this.ready();
    try {
      await producer.sendBatch({
        acks: -1,
        compression: this.compression,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      this.connected = true;
    } catch (err) {
      // Start over with a fresh connection next time (a broker may have gone or moved).
      this.connected = false;
      this.producer = null;
      await producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    const p = this.producer ?? (await this.connecting?.catch(() => null)) ?? null;
    this.producer = null;
    this.connected = false;
    await p?.disconnect().catch(() => undefined);
  }
}
