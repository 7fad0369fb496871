// The control channel's frames on the wire (docs/wire-format.md, "Control frames"): a 16-byte header, then a
// fixed-size body per type. Decoding is strict and total: any input gives either a whole frame or one reason.
import {
  RECONFIG_MESSAGE_TYPES,
  type NackReason,
  type ReconfigId,
  type ReconfigMessage,
  type ReconfigMessageType,
  type SeqDelta,
  type Tuple,
} from '../reconfig/messages';

export const CONTROL_MAGIC = 0x44595343; // ASCII "DYSC"
export const CONTROL_VERSION = 1;
export const CONTROL_HEADER_BYTES = 16;

/** A reconfiguration message with the channel's sequence number, or the channel's own acknowledgement of one. */
export type ControlFrame =
  | { kind: 'message'; epoch: number; seq: number; message: ReconfigMessage }
  | { kind: 'ack'; epoch: number; seq: number };

export type FrameTypeName = ReconfigMessageType | 'ack';

/** Type codes on the wire. Messages 1..7 in the order of RECONFIG_MESSAGE_TYPES; the transport's own from 0x80. */
export const FRAME_TYPE_CODES: Readonly<Record<FrameTypeName, number>> = {
  requestLock: 1,
  ackLock: 2,
  nackLock: 3,
  cancelLock: 4,
  ackCancel: 5,
  rightRequest: 6,
  teardown: 7,
  ack: 0x80,
};

export const FRAME_TYPE_NAMES: readonly FrameTypeName[] = [...RECONFIG_MESSAGE_TYPES, 'ack'];

const TYPE_BY_CODE = new Map<number, FrameTypeName>(FRAME_TYPE_NAMES.map((name) => [FRAME_TYPE_CODES[name], name]));

export const NACK_REASON_CODES: Readonly<Record<NackReason, number>> = {
  locked: 1,
  not_anchor: 2,
  contention: 3,
  unknown_session: 4,
  delta_not_fixed: 5,
  canceled: 6,
};
const NACK_REASON_BY_CODE = new Map<number, NackReason>(
  (Object.entries(NACK_REASON_CODES) as [NackReason, number][]).map(([name, code]) => [code, name]),
);

const TUPLE_BYTES = 12;
const ID_BYTES = 8;
const DELTA_BYTES = 8;
const ADDRESS_BYTES = 4;

/** Body size of each type; every body has exactly this size. */
export const BODY_BYTES: Readonly<Record<FrameTypeName, number>> = {
  requestLock: ID_BYTES + 2 * TUPLE_BYTES + ADDRESS_BYTES + DELTA_BYTES,
  ackLock: ID_BYTES + 2 * TUPLE_BYTES + ADDRESS_BYTES + DELTA_BYTES,
  nackLock: ID_BYTES + 2 * TUPLE_BYTES + 1,
  cancelLock: ID_BYTES + 2 * TUPLE_BYTES,
  ackCancel: ID_BYTES + 2 * TUPLE_BYTES,
  rightRequest: 2 * TUPLE_BYTES + ADDRESS_BYTES,
  teardown: ID_BYTES + 2 * TUPLE_BYTES,
  ack: 0,
};

/** Why a datagram is not a frame, in the order decodeFrame checks. */
export const DECODE_ERRORS = [
  'truncated',
  'bad_magic',
  'bad_version',
  'unsupported_flags',
  'unknown_type',
  'bad_length',
  'trailing_bytes',
  'out_of_range',
] as const;
export type DecodeError = (typeof DECODE_ERRORS)[number];

export type DecodeResult =
  | { ok: true; frame: ControlFrame }
  | { ok: false; reason: DecodeError; /** The header's type, when the header got that far. */ type?: FrameTypeName };

const isUint = (value: unknown, bits: 8 | 16 | 32): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** bits;

/** Why a value cannot be encoded (a field out of its range), or undefined when it can. */
export function frameProblem(frame: ControlFrame): string | undefined {
  if (!isUint(frame.epoch, 32)) return 'epoch must be a 32-bit unsigned integer';
  if (!isUint(frame.seq, 32)) return 'seq must be a 32-bit unsigned integer';
  if (frame.kind === 'ack') return undefined;
  return messageProblem(frame.message);
}

/** Why a reconfiguration message cannot go on the wire, or undefined when it can. */
export function messageProblem(message: ReconfigMessage): string | undefined {
  if (!(message?.type in FRAME_TYPE_CODES) || message.type === ('ack' as string)) return `unknown message type ${String(message?.type)}`;
  const problems: (string | undefined)[] = [];
  const address = (name: string, value: number) => {
    if (!isUint(value, 32) || value === 0) problems.push(`${name} must be a non-zero IPv4 address number`);
  };
  const tuple = (name: string, t: Tuple) => {
    if (typeof t !== 'object' || t === null) return problems.push(`${name} is missing`);
    address(`${name}.srcIp`, t.srcIp);
    address(`${name}.dstIp`, t.dstIp);
    for (const port of ['srcPort', 'dstPort'] as const) {
      if (!isUint(t[port], 16) || t[port] === 0) problems.push(`${name}.${port} must be 1..65535`);
    }
    return undefined;
  };
  const id = (value: ReconfigId) => {
    if (typeof value !== 'object' || value === null) return problems.push('id is missing');
    address('id.leftAnchor', value.leftAnchor);
    if (!isUint(value.nonce, 32)) problems.push('id.nonce must be a 32-bit unsigned integer');
    return undefined;
  };
  const delta = (value: SeqDelta) => {
    if (typeof value !== 'object' || value === null) return problems.push('delta is missing');
    if (!isUint(value.forward, 32) || !isUint(value.reverse, 32)) problems.push('delta.forward and delta.reverse must be 32-bit unsigned integers');
    return undefined;
  };
  tuple('session', message.session);
  tuple('subsession', message.subsession);
  switch (message.type) {
    case 'requestLock':
    case 'ackLock':
      id(message.id);
      address('rightAnchor', message.rightAnchor);
      delta(message.delta);
      break;
    case 'nackLock':
      id(message.id);
      if (!(message.reason in NACK_REASON_CODES)) problems.push(`unknown nack reason ${String(message.reason)}`);
      break;
    case 'rightRequest':
      address('rightAnchor', message.rightAnchor);
      break;
    default:
      id(message.id);
  }
  return problems.find((p) => p !== undefined);
}

/** The frame's bytes. Throws a RangeError naming the field when frameProblem() would refuse it. */
export function encodeFrame(frame: ControlFrame): Buffer {
  const problem = frameProblem(frame);
  if (problem) throw new RangeError(`cannot encode control frame: ${problem}`);
  const type: FrameTypeName = frame.kind === 'ack' ? 'ack' : frame.message.type;
  const out = Buffer.alloc(CONTROL_HEADER_BYTES + BODY_BYTES[type]);
  out.writeUInt32BE(CONTROL_MAGIC, 0);
  out.writeUInt8(CONTROL_VERSION, 4);
  out.writeUInt8(FRAME_TYPE_CODES[type], 5);
  out.writeUInt8(0, 6); // flags
  out.writeUInt8(BODY_BYTES[type], 7);
  out.writeUInt32BE(frame.epoch, 8);
  out.writeUInt32BE(frame.seq, 12);
  if (frame.kind === 'message') writeBody(out, CONTROL_HEADER_BYTES, frame.message);
  return out;
}

function writeBody(out: Buffer, start: number, message: ReconfigMessage): void {
  let at = start;
  const u32 = (value: number) => {
    out.writeUInt32BE(value, at);
    at += 4;
  };
  const tuple = (t: Tuple) => {
    u32(t.srcIp);
    u32(t.dstIp);
    out.writeUInt16BE(t.srcPort, at);
    out.writeUInt16BE(t.dstPort, at + 2);
    at += 4;
  };
  if (message.type !== 'rightRequest') {
    u32(message.id.leftAnchor);
    u32(message.id.nonce);
  }
  tuple(message.session);
  tuple(message.subsession);
  switch (message.type) {
    case 'requestLock':
    case 'ackLock':
      u32(message.rightAnchor);
      u32(message.delta.forward);
      u32(message.delta.reverse);
      break;
    case 'nackLock':
      out.writeUInt8(NACK_REASON_CODES[message.reason], at);
      break;
    case 'rightRequest':
      u32(message.rightAnchor);
      break;
    default:
      break;
  }
}

/** Strict decoding: the whole datagram is one frame, or the first reason it is not (never a throw). */
export function decodeFrame(bytes: Buffer): DecodeResult {
  if (!Buffer.isBuffer(bytes) || bytes.length < 4) return { ok: false, reason: 'truncated' };
  if (bytes.readUInt32BE(0) !== CONTROL_MAGIC) return { ok: false, reason: 'bad_magic' };
  if (bytes.length < CONTROL_HEADER_BYTES) return { ok: false, reason: 'truncated' };
  if (bytes[4] !== CONTROL_VERSION) return { ok: false, reason: 'bad_version' };
  if (bytes[6] !== 0) return { ok: false, reason: 'unsupported_flags' };
  const type = TYPE_BY_CODE.get(bytes[5]!);
  if (type === undefined) return { ok: false, reason: 'unknown_type' };
  const bodyLength = bytes[7]!;
  if (bodyLength !== BODY_BYTES[type]) return { ok: false, reason: 'bad_length', type };
  if (bytes.length < CONTROL_HEADER_BYTES + bodyLength) return { ok: false, reason: 'truncated', type };
  if (bytes.length > CONTROL_HEADER_BYTES + bodyLength) return { ok: false, reason: 'trailing_bytes', type };
  const epoch = bytes.readUInt32BE(8);
  const seq = bytes.readUInt32BE(12);
  if (type === 'ack') return { ok: true, frame: { kind: 'ack', epoch, seq } };
  const message = readBody(bytes, CONTROL_HEADER_BYTES, type);
  if (message === undefined || messageProblem(message) !== undefined) return { ok: false, reason: 'out_of_range', type };
  return { ok: true, frame: { kind: 'message', epoch, seq, message } };
}

function readBody(bytes: Buffer, start: number, type: ReconfigMessageType): ReconfigMessage | undefined {
  let at = start;
  const u32 = () => {
    const value = bytes.readUInt32BE(at);
    at += 4;
    return value;
  };
  const tuple = (): Tuple => {
    const srcIp = u32();
    const dstIp = u32();
    const srcPort = bytes.readUInt16BE(at);
    const dstPort = bytes.readUInt16BE(at + 2);
    at += 4;
    return { srcIp, dstIp, srcPort, dstPort };
  };
  if (type === 'rightRequest') {
    const session = tuple();
    const subsession = tuple();
    return { type, session, subsession, rightAnchor: u32() };
  }
  const id: ReconfigId = { leftAnchor: u32(), nonce: u32() };
  const session = tuple();
  const subsession = tuple();
  switch (type) {
    case 'requestLock':
    case 'ackLock': {
      const rightAnchor = u32();
      return { type, id, session, subsession, rightAnchor, delta: { forward: u32(), reverse: u32() } };
    }
    case 'nackLock': {
      const reason = NACK_REASON_BY_CODE.get(bytes[at]!);
      return reason === undefined ? undefined : { type, id, session, subsession, reason };
    }
    default:
      return { type, id, session, subsession };
  }
}
