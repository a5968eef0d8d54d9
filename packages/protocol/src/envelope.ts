import { ProtocolError } from './errors.ts';

/**
 * Body of Publish, Message and Forward frames:
 * `u8 topicLength | topic | u8 traceLength | traceId | u8 groupLength | group | payload`.
 * Strings are UTF-8, each at most 255 bytes; the payload is msgpack. A broker reads the topic
 * without decoding anything else and passes the body on as it came.
 */
export interface Envelope {
  topic: string;
  traceId: string;
  /** The subscription group a Forward is meant for; empty otherwise. */
  group: string;
  /** Where the payload starts in the body. */
  payloadOffset: number;
}

export const MAX_ENVELOPE_FIELD_BYTES = 255;

/** Read an envelope body; ProtocolError when a field overruns the body or the topic is empty. */
export function readEnvelope(body: Buffer): Envelope {
  const end = body.length;
  let at = 0;
  const field = (what: string): string => {
    if (at >= end) throw new ProtocolError(`envelope ends before its ${what}`);
    const length = body[at]!;
    const start = at + 1;
    at = start + length;
    if (at > end) throw new ProtocolError(`envelope ${what} overruns its frame`);
    return length === 0 ? '' : body.toString('utf8', start, at);
  };
  const topic = field('topic');
  if (topic.length === 0) throw new ProtocolError('envelope without a topic');
  const traceId = field('trace id');
  const group = field('group');
  return { topic, traceId, group, payloadOffset: at };
}

/** Bytes of an envelope's header, or a RangeError naming the field over 255 bytes. */
export function envelopeHeaderBytes(topic: string, traceId: string, group: string): [number, number, number] {
  const t = Buffer.byteLength(topic);
  const r = Buffer.byteLength(traceId);
  const g = Buffer.byteLength(group);
  if (t > MAX_ENVELOPE_FIELD_BYTES || r > MAX_ENVELOPE_FIELD_BYTES || g > MAX_ENVELOPE_FIELD_BYTES) {
    throw new RangeError(`envelope fields are at most ${MAX_ENVELOPE_FIELD_BYTES} bytes (topic ${t}, trace id ${r}, group ${g})`);
  }
  return [t, r, g];
}
