import { ProtocolError } from './errors.ts';

/**
 * Body of Publish, Message and Forward frames:
 * `u8 topicLength | topic | u8 traceLength | traceId | u8 groupLength | group | payload`.
 * The topic and group are UTF-8, the trace id ASCII, each at most 255 bytes; the payload is
 * msgpack. A broker reads the topic alone and passes the body on as it came.
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

/** A topic or group as the envelope carries it: its length byte, then its UTF-8 bytes. */
export function encodeEnvelopeField(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > MAX_ENVELOPE_FIELD_BYTES) {
    throw new RangeError(`an envelope field is at most ${MAX_ENVELOPE_FIELD_BYTES} bytes; '${value.slice(0, 40)}…' has ${bytes.length}`);
  }
  const field = Buffer.allocUnsafe(1 + bytes.length);
  field[0] = bytes.length;
  bytes.copy(field, 1);
  return field;
}

/** Where the payload starts; ProtocolError when a field overruns the body or the topic is empty. */
export function envelopePayloadOffset(body: Buffer): number {
  const end = body.length;
  if (end === 0 || body[0] === 0) throw new ProtocolError('envelope without a topic');
  let at = 1 + body[0]!;
  if (at >= end) throw new ProtocolError('envelope topic overruns its frame');
  at += 1 + body[at]!;
  if (at >= end) throw new ProtocolError('envelope trace id overruns its frame');
  at += 1 + body[at]!;
  if (at > end) throw new ProtocolError('envelope group overruns its frame');
  return at;
}

/**
 * Reads envelopes. Consecutive messages mostly share a topic, so the topic's string is kept and
 * reused while its bytes stay the same: reading a topic then costs a byte comparison.
 */
export class EnvelopeReader {
  private lastBytes = Buffer.alloc(MAX_ENVELOPE_FIELD_BYTES);
  private lastLength = -1;
  private lastTopic = '';

  /** The topic of a body already checked by `envelopePayloadOffset`. */
  topic(body: Buffer): string {
    const length = body[0]!;
    const last = this.lastBytes;
    if (length === this.lastLength) {
      let i = 0;
      while (i < length && body[1 + i] === last[i]) i++;
      if (i === length) return this.lastTopic;
    }
    body.copy(last, 0, 1, 1 + length);
    this.lastLength = length;
    this.lastTopic = body.toString('utf8', 1, 1 + length);
    return this.lastTopic;
  }

  /** The trace id of a body already checked by `envelopePayloadOffset`. */
  traceId(body: Buffer): string {
    const traceAt = 1 + body[0]!;
    return body.toString('latin1', traceAt + 1, traceAt + 1 + body[traceAt]!);
  }

  /** Check and read every field. */
  read(body: Buffer): Envelope {
    const payloadOffset = envelopePayloadOffset(body);
    const traceAt = 1 + body[0]!;
    const groupAt = traceAt + 1 + body[traceAt]!;
    const groupLength = body[groupAt]!;
    return {
      topic: this.topic(body),
      traceId: body.toString('latin1', traceAt + 1, groupAt),
      group: groupLength === 0 ? '' : body.toString('utf8', groupAt + 1, groupAt + 1 + groupLength),
      payloadOffset,
    };
  }
}

/** Read every field of an envelope body (see EnvelopeReader for the hot path). */
export function readEnvelope(body: Buffer): Envelope {
  return new EnvelopeReader().read(body);
}

/** A whole envelope body in one buffer (for a broker that publishes on a client's behalf). */
export function buildEnvelope(topic: string, traceId: string, group: string, payload: Uint8Array): Buffer {
  const t = encodeEnvelopeField(topic);
  const g = encodeEnvelopeField(group);
  const r = Buffer.from(traceId.slice(0, MAX_ENVELOPE_FIELD_BYTES), 'latin1');
  return Buffer.concat([t, Buffer.from([r.length]), r, g, payload]);
}
