// The control channel's frames on the wire (docs/wire-format.md, "Control frames"): a 16-byte header, then a
// fixed-size body per type; a stateChunk's fixed body is followed by the state bytes it announces. Decoding is
// strict and total: any input gives either a whole frame or one reason.
import {
  RECONFIG_MESSAGE_TYPES,
  type MigrateFailure,
  type NackReason,
  type ReconfigId,
  type ReconfigMessage,
  type ReconfigMessageType,
  type SeqDelta,
  type StateTransferFailure,
  type Tuple,
} from '../reconfig/messages';

export const CONTROL_MAGIC = 0x44595343; // ASCII "DYSC"
export const CONTROL_VERSION = 1;
export const CONTROL_HEADER_BYTES = 16;
/** Header flag bit 0: the frame is sealed, a trailer of CONTROL_AUTH_TRAILER_BYTES follows it (src/security/frame-auth.ts). */
export const CONTROL_FLAG_AUTHENTICATED = 0x01;
/** Key id u16, the signer's time u32, a 16-byte tag. */
export const CONTROL_AUTH_TRAILER_BYTES = 22;

/** Why a sealed frame did not open, or an unsealed one was refused. */
export const FRAME_AUTH_FAILURES = ['unsealed', 'bad_mac', 'unknown_key', 'stale'] as const;
export type FrameAuthFailure = (typeof FRAME_AUTH_FAILURES)[number];
export type FrameAuthOutcome = { ok: true; frame: Buffer } | { ok: false; reason: FrameAuthFailure | 'truncated' };

/** What seals and opens frames (src/security/frame-auth.ts); the channel holds one when authentication is on. */
export interface FrameAuth {
  /** Unsealed frames are refused. */
  readonly required: boolean;
  /** How far a sealer's clock may lie from ours; older seals are stale. */
  readonly maxSkewSeconds: number;
  /** The frame with its flag set and its trailer, for `to`. */
  seal(frame: Buffer, to: number): Buffer;
  /** A sealed frame from `from` without its trailer and flag, or why not. */
  open(sealed: Buffer, from: number): FrameAuthOutcome;
}

/** A reconfiguration message with the channel's sequence number, or the channel's own acknowledgement of one. */
export type ControlFrame =
  | { kind: 'message'; epoch: number; seq: number; message: ReconfigMessage }
  | { kind: 'ack'; epoch: number; seq: number };

export type FrameTypeName = ReconfigMessageType | 'ack';

/** Type codes on the wire. Messages from 1 in the order of RECONFIG_MESSAGE_TYPES; the transport's own from 0x80. */
export const FRAME_TYPE_CODES: Readonly<Record<FrameTypeName, number>> = {
  requestLock: 1,
  ackLock: 2,
  nackLock: 3,
  cancelLock: 4,
  ackCancel: 5,
  rightRequest: 6,
  teardown: 7,
  migrateRequest: 8,
  migrateResult: 9,
  moveState: 10,
  stateChunk: 11,
  stateResult: 12,
  dropState: 13,
  expectState: 14,
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

export const STATE_RESULT_CODES: Readonly<Record<'ok' | StateTransferFailure, number>> = {
  ok: 0,
  not_found: 1,
  exists: 2,
  malformed: 3,
  not_verified: 4,
  failed: 5,
  no_adapter: 6,
  unreachable: 7,
};

/** A migration's outcome on the wire. Written out, so that a new failure reason gets a new code and no old one moves. */
export const MIGRATE_OUTCOME_CODES: Readonly<Record<'completed' | MigrateFailure, number>> = {
  completed: 0,
  ...NACK_REASON_CODES, // 1..6
  lock_timeout: 7,
  unreachable: 8,
  new_path_failed: 9,
  setup_timeout: 10,
  state_not_found: 11,
  state_exists: 12,
  state_malformed: 13,
  state_not_verified: 14,
  state_failed: 15,
  state_no_adapter: 16,
  state_unreachable: 17,
  state_timeout: 18,
  busy: 19,
  no_neighbour: 20,
  invalid: 21,
  unknown_subsession: 22,
  wrong_direction: 23,
  stale: 24,
  not_on_path: 25,
};

const byCode = <K extends string>(codes: Readonly<Record<K, number>>) =>
  new Map<number, K>((Object.entries(codes) as [K, number][]).map(([name, code]) => [code, name]));
const NACK_REASON_BY_CODE = byCode(NACK_REASON_CODES);
const STATE_RESULT_BY_CODE = byCode(STATE_RESULT_CODES);
const MIGRATE_OUTCOME_BY_CODE = byCode(MIGRATE_OUTCOME_CODES);

const TUPLE_BYTES = 12;
const ID_BYTES = 8;
const DELTA_BYTES = 8;
const ADDRESS_BYTES = 4;

/** The most state bytes one stateChunk carries: a whole frame within CONTROL_PAYLOAD_MAX (1472). */
export const STATE_CHUNK_BYTES = 1420;
/** The most parts one session's state may take (a blob of at most STATE_BLOB_MAX_BYTES). */
export const STATE_CHUNK_PARTS_MAX = 48;
export const STATE_BLOB_MAX_BYTES = STATE_CHUNK_BYTES * STATE_CHUNK_PARTS_MAX;

/** Fixed body size of each type; every body has exactly this size, but a stateChunk's is followed by its bytes. */
export const BODY_BYTES: Readonly<Record<FrameTypeName, number>> = {
  requestLock: ID_BYTES + 2 * TUPLE_BYTES + ADDRESS_BYTES + DELTA_BYTES,
  ackLock: ID_BYTES + 2 * TUPLE_BYTES + ADDRESS_BYTES + DELTA_BYTES,
  nackLock: ID_BYTES + 2 * TUPLE_BYTES + 1,
  cancelLock: ID_BYTES + 2 * TUPLE_BYTES,
  ackCancel: ID_BYTES + 2 * TUPLE_BYTES,
  rightRequest: 2 * TUPLE_BYTES + ADDRESS_BYTES,
  teardown: ID_BYTES + 2 * TUPLE_BYTES,
  migrateRequest: 2 * TUPLE_BYTES + 2 * ADDRESS_BYTES + 1,
  migrateResult: ID_BYTES + TUPLE_BYTES + 1 + 4 + 4,
  moveState: ID_BYTES + 2 * TUPLE_BYTES + ADDRESS_BYTES,
  stateChunk: ID_BYTES + 2 * TUPLE_BYTES + 1 + 1 + 2,
  stateResult: ID_BYTES + TUPLE_BYTES + 1,
  dropState: ID_BYTES + TUPLE_BYTES,
  expectState: ID_BYTES + TUPLE_BYTES + ADDRESS_BYTES,
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

export type FrameDecodeResult =
  | { ok: true; frame: ControlFrame }
  | { ok: false; reason: DecodeError; /** The header's type, when the header got that far. */ type?: FrameTypeName };
/** A frame of a datagram: decoded, or refused by the codec or by authentication. */
export type DecodeResult = FrameDecodeResult | { ok: false; reason: FrameAuthFailure; type?: FrameTypeName };

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
  const oneOf = (name: string, value: string, codes: Readonly<Record<string, number>>) => {
    if (!Object.hasOwn(codes, value)) problems.push(`unknown ${name} ${String(value)}`);
  };
  tuple('session', message.session);
  switch (message.type) {
    case 'requestLock':
    case 'ackLock':
      tuple('subsession', message.subsession);
      id(message.id);
      address('rightAnchor', message.rightAnchor);
      delta(message.delta);
      break;
    case 'nackLock':
      tuple('subsession', message.subsession);
      id(message.id);
      oneOf('nack reason', message.reason, NACK_REASON_CODES);
      break;
    case 'rightRequest':
      tuple('subsession', message.subsession);
      address('rightAnchor', message.rightAnchor);
      break;
    case 'migrateRequest':
      tuple('subsession', message.subsession);
      address('rightAnchor', message.rightAnchor);
      address('replacement', message.replacement);
      if (typeof message.transferState !== 'boolean') problems.push('transferState must be a boolean');
      break;
    case 'migrateResult':
      id(message.id);
      oneOf('migration outcome', message.outcome, MIGRATE_OUTCOME_CODES);
      if (!isUint(message.durationUs, 32) || !isUint(message.switchedUs, 32)) problems.push('durationUs and switchedUs must be 32-bit unsigned integers');
      break;
    case 'moveState':
      tuple('subsession', message.subsession);
      id(message.id);
      address('to', message.to);
      break;
    case 'stateChunk': {
      id(message.id);
      tuple('tuple', message.tuple);
      const { part, parts, bytes } = message;
      if (!isUint(parts, 8) || parts < 1 || parts > STATE_CHUNK_PARTS_MAX) problems.push(`parts must be 1..${STATE_CHUNK_PARTS_MAX}`);
      else if (!isUint(part, 8) || part >= parts) problems.push('part must be below parts');
      if (!Buffer.isBuffer(bytes) || bytes.length < 1 || bytes.length > STATE_CHUNK_BYTES) problems.push(`bytes must be a Buffer of 1..${STATE_CHUNK_BYTES} bytes`);
      break;
    }
    case 'stateResult':
      id(message.id);
      oneOf('state result', message.result, STATE_RESULT_CODES);
      break;
    case 'dropState':
      id(message.id);
      break;
    case 'expectState':
      id(message.id);
      address('from', message.from);
      break;
    default:
      tuple('subsession', message.subsession);
      id(message.id);
  }
  return problems.find((p) => p !== undefined);
}

/** The frame's bytes. Throws a RangeError naming the field when frameProblem() would refuse it. */
export function encodeFrame(frame: ControlFrame): Buffer {
  const problem = frameProblem(frame);
  if (problem) throw new RangeError(`cannot encode control frame: ${problem}`);
  const type: FrameTypeName = frame.kind === 'ack' ? 'ack' : frame.message.type;
  const trailing = frame.kind === 'message' && frame.message.type === 'stateChunk' ? frame.message.bytes.length : 0;
  const out = Buffer.alloc(CONTROL_HEADER_BYTES + BODY_BYTES[type] + trailing);
  out.writeUInt32BE(CONTROL_MAGIC, 0);
  out.writeUInt8(CONTROL_VERSION, 4);
  out.writeUInt8(FRAME_TYPE_CODES[type], 5);
  out.writeUInt8(0, 6); // flags
  out.writeUInt8(BODY_BYTES[type], 7);
  out.writeUInt32BE(frame.epoch, 8);
  out.writeUInt32BE(frame.seq, 12);
  if (frame.kind === 'message') writeBody(new Writer(out, CONTROL_HEADER_BYTES), frame.message);
  return out;
}

class Writer {
  constructor(
    private readonly out: Buffer,
    private at: number,
  ) {}
  u8(value: number): void {
    this.out.writeUInt8(value, this.at);
    this.at += 1;
  }
  u16(value: number): void {
    this.out.writeUInt16BE(value, this.at);
    this.at += 2;
  }
  u32(value: number): void {
    this.out.writeUInt32BE(value, this.at);
    this.at += 4;
  }
  tuple(t: Tuple): void {
    this.u32(t.srcIp);
    this.u32(t.dstIp);
    this.u16(t.srcPort);
    this.u16(t.dstPort);
  }
  id(id: ReconfigId): void {
    this.u32(id.leftAnchor);
    this.u32(id.nonce);
  }
  bytes(b: Buffer): void {
    b.copy(this.out, this.at);
    this.at += b.length;
  }
}

function writeBody(w: Writer, message: ReconfigMessage): void {
  switch (message.type) {
    case 'rightRequest':
    case 'migrateRequest':
      w.tuple(message.session);
      w.tuple(message.subsession);
      w.u32(message.rightAnchor);
      if (message.type === 'migrateRequest') {
        w.u32(message.replacement);
        w.u8(message.transferState ? 1 : 0);
      }
      return;
    case 'migrateResult':
      w.id(message.id);
      w.tuple(message.session);
      w.u8(MIGRATE_OUTCOME_CODES[message.outcome]);
      w.u32(message.durationUs);
      w.u32(message.switchedUs);
      return;
    case 'stateChunk':
      w.id(message.id);
      w.tuple(message.session);
      w.tuple(message.tuple);
      w.u8(message.part);
      w.u8(message.parts);
      w.u16(message.bytes.length);
      w.bytes(message.bytes);
      return;
    case 'stateResult':
    case 'dropState':
    case 'expectState':
      w.id(message.id);
      w.tuple(message.session);
      if (message.type === 'stateResult') w.u8(STATE_RESULT_CODES[message.result]);
      if (message.type === 'expectState') w.u32(message.from);
      return;
    default:
      break;
  }
  w.id(message.id);
  w.tuple(message.session);
  w.tuple(message.subsession);
  switch (message.type) {
    case 'requestLock':
    case 'ackLock':
      w.u32(message.rightAnchor);
      w.u32(message.delta.forward);
      w.u32(message.delta.reverse);
      break;
    case 'nackLock':
      w.u8(NACK_REASON_CODES[message.reason]);
      break;
    case 'moveState':
      w.u32(message.to);
      break;
    default:
      break;
  }
}

/**
 * The frames of one datagram, back to back (a sender puts what it has for a peer at once into one datagram): each
 * decoded in order; a frame that is not one ends the datagram, with its reason as the last result. With `auth`, a
 * sealed frame is opened before it is decoded (one that does not open ends the datagram too), and an unsealed one
 * is refused when auth requires seals; without it, a sealed frame has an unsupported flag.
 */
export function decodeDatagram(bytes: Buffer, auth?: { from: number; auth: FrameAuth }): DecodeResult[] {
  if (!Buffer.isBuffer(bytes)) return [{ ok: false, reason: 'truncated' }];
  const results: DecodeResult[] = [];
  let at = 0;
  do {
    const length = declaredFrameLength(bytes, at);
    const result = decodeOne(length === undefined ? bytes.subarray(at) : bytes.subarray(at, at + length), auth);
    results.push(result);
    if (!result.ok || length === undefined) break;
    at += length;
  } while (at < bytes.length);
  return results;
}

function decodeOne(bytes: Buffer, auth: { from: number; auth: FrameAuth } | undefined): DecodeResult {
  const header = bytes.length >= CONTROL_HEADER_BYTES && bytes.readUInt32BE(0) === CONTROL_MAGIC;
  if (!auth || !header) return decodeFrame(bytes);
  const type = TYPE_BY_CODE.get(bytes[5]!);
  const typed = type === undefined ? {} : { type };
  if ((bytes[6]! & CONTROL_FLAG_AUTHENTICATED) === 0) {
    return auth.auth.required ? { ok: false, reason: 'unsealed', ...typed } : decodeFrame(bytes);
  }
  const opened = auth.auth.open(bytes, auth.from);
  return opened.ok ? decodeFrame(opened.frame) : { ok: false, reason: opened.reason, ...typed };
}

/** The length the frame starting at `at` declares, when its header is one and its bytes are all there. */
function declaredFrameLength(bytes: Buffer, at: number): number | undefined {
  if (bytes.length - at < CONTROL_HEADER_BYTES || bytes.readUInt32BE(at) !== CONTROL_MAGIC) return undefined;
  const type = TYPE_BY_CODE.get(bytes[at + 5]!);
  if (type === undefined || bytes[at + 7] !== BODY_BYTES[type]) return undefined;
  const trailer = (bytes[at + 6]! & CONTROL_FLAG_AUTHENTICATED) !== 0 ? CONTROL_AUTH_TRAILER_BYTES : 0;
  const fixed = CONTROL_HEADER_BYTES + BODY_BYTES[type];
  if (type !== 'stateChunk') return fixed + trailer;
  if (at + fixed > bytes.length) return undefined;
  return fixed + bytes.readUInt16BE(at + fixed - 2) + trailer;
}

/** Strict decoding: the whole buffer is one frame, or the first reason it is not (never a throw). */
export function decodeFrame(bytes: Buffer): FrameDecodeResult {
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
  // A stateChunk's fixed body ends with the length of the bytes that follow it.
  const end = CONTROL_HEADER_BYTES + bodyLength;
  const frameLength = type === 'stateChunk' ? end + bytes.readUInt16BE(end - 2) : end;
  if (bytes.length < frameLength) return { ok: false, reason: 'truncated', type };
  if (bytes.length > frameLength) return { ok: false, reason: 'trailing_bytes', type };
  const epoch = bytes.readUInt32BE(8);
  const seq = bytes.readUInt32BE(12);
  if (type === 'ack') return { ok: true, frame: { kind: 'ack', epoch, seq } };
  const message = readBody(new Reader(bytes, CONTROL_HEADER_BYTES), type);
  if (message === undefined || messageProblem(message) !== undefined) return { ok: false, reason: 'out_of_range', type };
  return { ok: true, frame: { kind: 'message', epoch, seq, message } };
}

class Reader {
  constructor(
    private readonly bytes: Buffer,
    private at: number,
  ) {}
  u8(): number {
    return this.bytes[this.at++]!;
  }
  u16(): number {
    const value = this.bytes.readUInt16BE(this.at);
    this.at += 2;
    return value;
  }
  u32(): number {
    const value = this.bytes.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }
  tuple(): Tuple {
    return { srcIp: this.u32(), dstIp: this.u32(), srcPort: this.u16(), dstPort: this.u16() };
  }
  id(): ReconfigId {
    return { leftAnchor: this.u32(), nonce: this.u32() };
  }
  /** A copy: the message outlives the datagram's buffer. */
  copy(length: number): Buffer {
    const out = Buffer.from(this.bytes.subarray(this.at, this.at + length));
    this.at += length;
    return out;
  }
}

function readBody(r: Reader, type: ReconfigMessageType): ReconfigMessage | undefined {
  switch (type) {
    case 'rightRequest':
      return { type, session: r.tuple(), subsession: r.tuple(), rightAnchor: r.u32() };
    case 'migrateRequest': {
      const session = r.tuple();
      const subsession = r.tuple();
      const rightAnchor = r.u32();
      const replacement = r.u32();
      const flag = r.u8();
      return flag > 1 ? undefined : { type, session, subsession, rightAnchor, replacement, transferState: flag === 1 };
    }
    case 'migrateResult': {
      const id = r.id();
      const session = r.tuple();
      const outcome = MIGRATE_OUTCOME_BY_CODE.get(r.u8());
      const durationUs = r.u32();
      const switchedUs = r.u32();
      return outcome === undefined ? undefined : { type, id, session, outcome, durationUs, switchedUs };
    }
    case 'stateChunk': {
      const id = r.id();
      const session = r.tuple();
      const tuple = r.tuple();
      const part = r.u8();
      const parts = r.u8();
      return { type, id, session, tuple, part, parts, bytes: r.copy(r.u16()) };
    }
    case 'stateResult': {
      const id = r.id();
      const session = r.tuple();
      const result = STATE_RESULT_BY_CODE.get(r.u8());
      return result === undefined ? undefined : { type, id, session, result };
    }
    case 'dropState':
      return { type, id: r.id(), session: r.tuple() };
    case 'expectState':
      return { type, id: r.id(), session: r.tuple(), from: r.u32() };
    default:
      break;
  }
  const id = r.id();
  const session = r.tuple();
  const subsession = r.tuple();
  switch (type) {
    case 'requestLock':
    case 'ackLock': {
      const rightAnchor = r.u32();
      return { type, id, session, subsession, rightAnchor, delta: { forward: r.u32(), reverse: r.u32() } };
    }
    case 'nackLock': {
      const reason = NACK_REASON_BY_CODE.get(r.u8());
      return reason === undefined ? undefined : { type, id, session, subsession, reason };
    }
    case 'moveState':
      return { type, id, session, subsession, to: r.u32() };
    default:
      return { type, id, session, subsession } as ReconfigMessage;
  }
}
