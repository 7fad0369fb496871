// One end of a verified bidirectional stream over a TCP socket. Both ends send their direction's pattern at once
// (as fast as the socket takes it, or paced to a rate) and check every byte the other sends (StreamVerifier); then
// each ends its writes with a trailer, waits for the peer's end, and settles the totals. Wire format: the client
// opens with an 8-byte hello (magic "DV", version, 0, the connection's seed as u32 big-endian) so that one server
// serves connections of different seeds; after it, and from the server's first byte, each direction is pattern
// bytes followed by the trailer.
import type { Socket } from 'node:net';
import { directionSeed, StreamPattern, type StreamDirection } from './stream-pattern';
import { encodeTrailer, StreamVerifier, type VerifiedDirection } from './stream-verifier';

export const HELLO_BYTES = 8;
const HELLO_MAGIC = 0x4456; // "DV"
const HELLO_VERSION = 1;
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
export const DEFAULT_SAMPLE_INTERVAL_MS = 1_000;
/** How long a side waits for its peer's end after its own, and a server for the hello. */
export const DEFAULT_SETTLE_TIMEOUT_MS = 30_000;

export type StreamRole = 'client' | 'server';

export function encodeHello(seed: number): Buffer {
  const hello = Buffer.alloc(HELLO_BYTES);
  hello.writeUInt16BE(HELLO_MAGIC, 0);
  hello.writeUInt8(HELLO_VERSION, 2);
  hello.writeUInt32BE(seed >>> 0, 4);
  return hello;
}

/** The seed a hello carries, or an error message. */
export function decodeHello(hello: Buffer): { seed: number } | { error: string } {
  if (hello.length !== HELLO_BYTES) return { error: `hello of ${hello.length} bytes, expected ${HELLO_BYTES}` };
  if (hello.readUInt16BE(0) !== HELLO_MAGIC) return { error: `bad hello magic 0x${hello.readUInt16BE(0).toString(16)}` };
  if (hello.readUInt8(2) !== HELLO_VERSION) return { error: `unsupported hello version ${hello.readUInt8(2)}` };
  return { seed: hello.readUInt32BE(4) };
}

/** When a side stops sending (the server may also stop when its peer ends). */
export interface SendLimit {
  /** stop after this long */
  durationMs?: number;
  /** stop after this many pattern bytes */
  bytes?: number;
  /** stop when the peer's end arrives (the server's default, so that it mirrors the client's length) */
  untilPeerEnds?: boolean;
}

export interface StreamPeerOptions {
  role: StreamRole;
  /** the connection's seed; the client's, sent in the hello (a server learns it from there) */
  seed?: number;
  limit: SendLimit;
  /** pace sending to this rate; default as fast as the socket takes it */
  rateMbitPerSecond?: number;
  chunkBytes?: number;
  sampleIntervalMs?: number;
  settleTimeoutMs?: number;
  /** the connection's retransmitted segments so far, or undefined when it cannot be told (socket gone) */
  retransmissions?: () => Promise<number | undefined>;
  /** milliseconds, monotonic; default performance.now */
  now?: () => number;
}

export interface ThroughputSample {
  /** end of the interval, ms since the stream started */
  atMs: number;
  sentBytes: number;
  receivedBytes: number;
}

export interface StreamPeerReport {
  role: StreamRole;
  seed: number | undefined;
  /** nothing lost, duplicated, altered; no reset; both ends closed cleanly */
  ok: boolean;
  /** why not ok, one line each */
  failures: string[];
  sent: { bytes: number; trailer: boolean };
  received: VerifiedDirection | undefined;
  /** ECONNRESET seen */
  reset: boolean;
  /** the connection closed without the peer's end, or with an end whose trailer disagrees with the bytes received */
  earlyEof: boolean;
  error: string | undefined;
  samples: ThroughputSample[];
  /** the largest retransmission count seen for this connection, and how it was read */
  retransmissions: { segments: number; source: string } | undefined;
  durationMs: number;
}

/** Resolves when `promise` does or after `ms`, whichever is first, and leaves no timer behind. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one side of the stream on a connected socket (created with allowHalfOpen) until both directions ended. */
export async function runStreamPeer(socket: Socket, opts: StreamPeerOptions): Promise<StreamPeerReport> {
  const now = opts.now ?? (() => performance.now());
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const settleTimeoutMs = opts.settleTimeoutMs ?? DEFAULT_SETTLE_TIMEOUT_MS;
  if (opts.role === 'client' && opts.seed === undefined) throw new RangeError('a client needs a seed');
  if (opts.role === 'client' && opts.limit.untilPeerEnds) throw new RangeError('a client cannot wait for the server to end first');
  if (opts.limit.durationMs === undefined && opts.limit.bytes === undefined && !opts.limit.untilPeerEnds) {
    throw new RangeError('a stream needs a duration, a byte count or untilPeerEnds');
  }
  if (opts.rateMbitPerSecond !== undefined && !(opts.rateMbitPerSecond > 0)) throw new RangeError('rate must be positive');

  const start = now();
  const failures: string[] = [];
  let seed = opts.seed;
  let verifier: StreamVerifier | undefined;
  let hello = Buffer.alloc(0);
  let sentBytes = 0;
  let trailerSent = false;
  let received: VerifiedDirection | undefined;
  let reset = false;
  let errorText: string | undefined;
  let closed = false;
  let peerEnded = false;
  let maxRetrans: number | undefined;
  const samples: ThroughputSample[] = [];
  let lastSample = { sent: 0, received: 0 };

  let signalPeerEnd!: () => void;
  const peerEnd = new Promise<void>((resolve) => (signalPeerEnd = resolve));
  let signalSeed!: () => void;
  const seedKnown = new Promise<void>((resolve) => (signalSeed = resolve));
  let signalClose!: () => void;
  const closedPromise = new Promise<void>((resolve) => (signalClose = resolve));
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const startVerifying = (connectionSeed: number) => {
    seed = connectionSeed;
    const incoming: StreamDirection = opts.role === 'client' ? 'server-to-client' : 'client-to-server';
    verifier = new StreamVerifier(new StreamPattern(directionSeed(connectionSeed, incoming)));
    signalSeed();
  };
  if (opts.role === 'client') startVerifying(opts.seed!);

  socket.on('data', (data: Buffer) => {
    if (verifier === undefined) {
      const need = HELLO_BYTES - hello.length;
      hello = Buffer.concat([hello, data.subarray(0, need)]);
      data = data.subarray(need);
      if (hello.length < HELLO_BYTES) return;
      const decoded = decodeHello(hello);
      if ('error' in decoded) {
        failures.push(decoded.error);
        socket.destroy();
        return;
      }
      startVerifying(decoded.seed);
    }
    verifier!.push(data);
  });
  socket.on('end', () => {
    peerEnded = true;
    if (verifier) received = verifier.end();
    signalPeerEnd();
    wakeUp();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET') reset = true;
    errorText ??= `${err.code ?? 'error'}: ${err.message}`;
  });
  socket.on('close', () => {
    closed = true;
    signalSeed();
    signalPeerEnd();
    signalClose();
    wakeUp();
  });
  socket.on('drain', wakeUp);

  const sampleRetrans = async () => {
    if (!opts.retransmissions) return;
    try {
      const value = await opts.retransmissions();
      if (value !== undefined) maxRetrans = Math.max(maxRetrans ?? 0, value);
    } catch {
      // a failed read leaves the last count standing
    }
  };
  const takeSample = () => {
    const got = verifier?.bytesChecked ?? 0;
    samples.push({ atMs: Math.round(now() - start), sentBytes: sentBytes - lastSample.sent, receivedBytes: got - lastSample.received });
    lastSample = { sent: sentBytes, received: got };
  };
  const sampleInterval = opts.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
  const sampler = setInterval(() => {
    takeSample();
    void sampleRetrans();
  }, sampleInterval);

  const waitFor = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  try {
    if (opts.role === 'client') socket.write(encodeHello(seed!));
    else {
      await within(seedKnown, settleTimeoutMs);
      if (seed === undefined && !closed) failures.push(`no hello within ${settleTimeoutMs} ms`);
    }
    if (seed !== undefined && !closed) {
      const pattern = new StreamPattern(directionSeed(seed, opts.role === 'client' ? 'client-to-server' : 'server-to-client'));
      const sendStart = now();
      const limit = opts.limit;
      const bytesPerMs = opts.rateMbitPerSecond === undefined ? undefined : (opts.rateMbitPerSecond * 1e6) / 8 / 1000;
      const chunk = bytesPerMs === undefined ? chunkBytes : Math.max(1, Math.min(chunkBytes, Math.floor(bytesPerMs * 10)));
      for (;;) {
        if (closed || socket.destroyed) break;
        if (limit.untilPeerEnds && peerEnded) break;
        const elapsed = now() - sendStart;
        if (limit.durationMs !== undefined && elapsed >= limit.durationMs) break;
        const left = limit.bytes === undefined ? chunk : Math.min(chunk, limit.bytes - sentBytes);
        if (left <= 0) break;
        if (bytesPerMs !== undefined) {
          const ahead = sentBytes / bytesPerMs - elapsed;
          if (ahead > 1) {
            await waitFor(Math.min(ahead, 50));
            continue;
          }
        }
        const data = pattern.bytes(sentBytes, left);
        sentBytes += left;
        // A write the kernel takes at once emits 'drain' on the next tick, so without this the loop would chain ticks
        // and never let the event loop poll: the socket would stop being read while the peer keeps up with us.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (!socket.write(data)) {
          while (socket.writableNeedDrain && !closed && !(limit.untilPeerEnds && peerEnded)) {
            if (limit.durationMs !== undefined && now() - sendStart >= limit.durationMs) break;
            await waitFor(100);
          }
        }
      }
      if (!closed && !socket.destroyed) {
        await sampleRetrans();
        socket.end(encodeTrailer(sentBytes));
        trailerSent = true;
      }
    }
    // one budget for the peer's end and the close, so that a stalled stream is reported before a caller gives up
    const settleDeadline = now() + settleTimeoutMs;
    await within(peerEnd, settleTimeoutMs);
    if (!peerEnded && !closed) failures.push(`the peer did not end within ${settleTimeoutMs} ms`);
    await sampleRetrans();
    await within(closedPromise, Math.max(0, settleDeadline - now()));
    if (!closed) {
      failures.push(`the connection did not close within ${settleTimeoutMs} ms`);
      socket.destroy();
    }
  } finally {
    clearInterval(sampler);
  }
  takeSample();

  if (received === undefined && verifier !== undefined && !peerEnded) received = verifier.end();
  // an end whose trailer does not agree with the count received is no end of the sender's stream (after a reset the
  // socket reports an end too)
  const earlyEof = !peerEnded || received === undefined || received.bytesDeclared !== received.bytesReceived;
  if (reset) failures.push('connection reset (ECONNRESET)');
  else if (errorText !== undefined) failures.push(`socket error ${errorText}`);
  if (!trailerSent) failures.push(`sent ${sentBytes} bytes but could not end the stream`);
  if (received) {
    if (received.mismatchedBytes > 0) {
      failures.push(`${received.mismatchedBytes} received bytes differ from the pattern, the first at offset ${received.firstMismatchOffset}`);
    }
    if (received.missingBytes > 0) failures.push(`${received.missingBytes} bytes missing (declared ${received.bytesDeclared}, received ${received.bytesReceived})`);
    if (received.extraBytes > 0) failures.push(`${received.extraBytes} bytes more than declared (duplication)`);
  }
  if (!peerEnded) failures.push('the connection closed without the peer ending its stream');
  else if (received?.bytesDeclared === undefined) failures.push('the peer ended without a trailer (early EOF)');
  else if (earlyEof && !reset) failures.push('the peer ended before the count its trailer declares (early EOF)');
  return {
    role: opts.role,
    seed,
    ok: failures.length === 0,
    failures,
    sent: { bytes: sentBytes, trailer: trailerSent },
    received,
    reset,
    earlyEof,
    error: errorText,
    samples,
    retransmissions: maxRetrans === undefined ? undefined : { segments: maxRetrans, source: 'ss -tin (retrans total)' },
    durationMs: Math.round(now() - start),
  };
}
