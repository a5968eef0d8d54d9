export { FrameKind, isFrameKind, frameKindName } from './kinds.ts';
export { DEFAULT_LIMITS, FRAME_HEADER_BYTES, PROTOCOL_VERSION, maxFrameLength } from './limits.ts';
export type { WireLimits } from './limits.ts';
export { FrameDecoder } from './frame-decoder.ts';
export type { FrameHandler } from './frame-decoder.ts';
export { FrameWriter } from './frame-writer.ts';
export { readEnvelope, EnvelopeReader, encodeEnvelopeField, buildEnvelope, envelopePayloadOffset, MAX_ENVELOPE_FIELD_BYTES } from './envelope.ts';
export type { Envelope } from './envelope.ts';
export { encode, encodeTransient, decode, decodeFrom, decodePayload, isUndecodable } from './codec.ts';
export {
  ErrorCode, SquadronError, NoInstancesError, TimeoutError, DeadlineExceededError, NoSuchMethodError,
  HandlerError, BadRequestError, PayloadTooLargeError, ProtocolError, ConnectionLostError,
  UnavailableError, ClosedError, AuthFailedError, RateLimitedError, PermissionDeniedError, QuotaExceededError, errorToWire, errorFromWire,
} from './errors.ts';
export type { SquadronErrorOptions, WireError } from './errors.ts';
export {
  asAuth, asHello, asReady, asInstanceInfo, asSubscribe, asInterest, asRegistryEvent, asRequest,
  asEnqueue, asConsume, asDelivery, asPublishDurable, asLoadReport, asDropReport, durableQueueName, MAX_DROP_REPORT_ENTRIES,
} from './messages.ts';
export type {
  PeerRole, HelloBody, AuthBody, ReadyBody, InstanceInfo, MethodInfo, RegistryEvent, SubscribeBody,
  InterestBody, QueryBody, RequestBody, EnqueueBody, EnqueueReply, ConsumeBody, DeliveryBody, PublishDurableBody, LoadReport, LoadRejections, DropReport,
} from './messages.ts';
