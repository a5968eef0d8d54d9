/** Limits every peer enforces on the wire. Values are defaults; each side may configure its own. */
export interface WireLimits {
  /** Largest user payload (request, reply, message) in bytes. */
  readonly maxPayloadBytes: number;
  /** Bytes a frame may add around its payload (method, topic, trace id, error text). */
  readonly maxEnvelopeBytes: number;
}

export const DEFAULT_LIMITS: WireLimits = Object.freeze({
  maxPayloadBytes: 1024 * 1024,
  maxEnvelopeBytes: 16 * 1024,
});

/** Bytes before a frame's body: u32 length, u8 kind, u32 id. */
export const FRAME_HEADER_BYTES = 9;

/** Largest value the length prefix may carry for the given limits. */
export function maxFrameLength(limits: WireLimits): number {
  return limits.maxPayloadBytes + limits.maxEnvelopeBytes + (FRAME_HEADER_BYTES - 4);
}

export const PROTOCOL_VERSION = 1;
