// A middlebox host's half of state transfer (docs/state-transfer.md). On the old instance's host it exports the
// state the coordinator was asked for and sends it, in stateChunk messages, to the new instance's host; on that
// host it puts the chunks back together, imports, and tells the left anchor how it went (stateResult). A dropState
// from the left anchor undoes an import its canceled reconfiguration made. Requests that arrive together go to the
// adapter as one batch: a bulk migration's hundreds of sessions take one netlink conversation per side, not one each.
//
// The new instance imports only state that the run's left anchor announced to it (expectState), from the host it
// named: chunks from anyone else are refused, and a session's state complete before its announcement waits for it
// (docs/security.md).
import { STATE_BLOB_MAX_BYTES, STATE_CHUNK_BYTES } from '../control/codec';
import type { Logger } from '../log/logger';
import type { ReconfigMetrics, StateSide } from '../metrics/reconfig-collector';
import type { DropState, ExpectState, ReconfigId, ReconfigMessage, StateChunk, StateTransferFailure, Tuple } from '../reconfig/messages';
import { sameTuple, tupleKey } from '../reconfig/tuples';
import type { StateAdapter, StateBlob } from '../state/state-adapter';

export interface StateMoverOptions {
  /** This host's middlebox state; without one, every request is answered no_adapter. */
  adapter: StateAdapter | undefined;
  send: (to: number, message: ReconfigMessage) => void;
  /** Milliseconds, monotonic. */
  now: () => number;
  metrics?: ReconfigMetrics;
  log?: Logger;
  /** How long the parts of one session's state may take to arrive, and how long an import waits for a dropState. */
  assemblyTimeoutMs?: number;
  importKeptMs?: number;
}

export interface ExportRequest {
  id: ReconfigId;
  session: Tuple;
  /** The connection as this host's middlebox sees it (the session's left side, forward direction). */
  tuple: Tuple;
  /** The new instance's host. */
  to: number;
}

interface Assembly {
  id: ReconfigId;
  session: Tuple;
  tuple: Tuple;
  /** The host the first part came from: every part must. */
  from: number;
  parts: (Buffer | undefined)[];
  arrived: number;
  startedAt: number;
}

/** A state move the left anchor announced: from which host, since when. */
interface Expectation {
  from: number;
  at: number;
}

interface Imported {
  tuple: Tuple;
  at: number;
}

/** Sessions whose assemblies run at once; more are refused (failed) until some finish or expire. */
export const MAX_ASSEMBLIES = 20_000;
/** Runs remembered as dropped, so that their state arriving late is not imported. */
const DROPPED_KEPT = 4096;

const runKey = (id: ReconfigId, session: Tuple) => `${id.leftAnchor >>> 0}/${id.nonce >>> 0}/${tupleKey(session)}`;

/** Splits one session's state into the stateChunk messages that carry it, in order. */
export function chunksOf(request: ExportRequest, blob: StateBlob): StateChunk[] {
  const parts = Math.max(1, Math.ceil(blob.bytes.length / STATE_CHUNK_BYTES));
  return Array.from({ length: parts }, (_, part) => ({
    type: 'stateChunk' as const,
    id: request.id,
    session: request.session,
    tuple: blob.tuple,
    part,
    parts,
    bytes: blob.bytes.subarray(part * STATE_CHUNK_BYTES, (part + 1) * STATE_CHUNK_BYTES),
  }));
}

export class StateMover {
  private exports: ExportRequest[] = [];
  private imports: { assembly: Assembly; blob: StateBlob }[] = [];
  private flushing: { export: boolean; import: boolean } = { export: false, import: false };
  private readonly assemblies = new Map<string, Assembly>();
  private readonly expected = new Map<string, Expectation>();
  /** Whole states that wait for their announcement. */
  private readonly unannounced = new Map<string, { assembly: Assembly; blob: StateBlob }>();
  private readonly imported = new Map<string, Imported>();
  private readonly dropped = new Set<string>();
  private readonly undelivered = new Set<string>();
  private stopped = false;

  constructor(private readonly options: StateMoverOptions) {}

  /** Old instance: queue the session's state for export to `request.to`. */
  exportState(request: ExportRequest): void {
    if (!this.options.adapter) return this.answer(request.id, request.session, 'no_adapter', 'export');
    this.exports.push(request);
    this.schedule('export');
  }

  /** New instance: the left anchor of `message.id` (the caller checked `from`) announces a state move from `message.from`. */
  expect(message: ExpectState): void {
    const key = runKey(message.id, message.session);
    if (this.dropped.has(key) || this.imported.has(key)) return;
    this.expire();
    if (this.expected.size >= MAX_ASSEMBLIES) return this.answer(message.id, message.session, 'failed', 'import');
    this.expected.set(key, { from: message.from >>> 0, at: this.options.now() });
    const waiting = this.unannounced.get(key);
    if (!waiting) return;
    this.unannounced.delete(key);
    if (waiting.assembly.from !== message.from >>> 0) return this.refuse(waiting.assembly, 'not_expected');
    this.imports.push(waiting);
    this.schedule('import');
  }

  /** New instance: one part of a session's state from `from`. The whole of it is imported once every part is in and
   * its move was announced. */
  receiveChunk(chunk: StateChunk, from: number): void {
    const key = runKey(chunk.id, chunk.session);
    if (this.dropped.has(key) || this.imported.has(key) || this.unannounced.has(key)) return;
    const expectation = this.expected.get(key);
    if (expectation !== undefined && expectation.from !== from >>> 0) return this.refuseChunk(chunk, from);
    if (!this.options.adapter) return this.answer(chunk.id, chunk.session, 'no_adapter', 'import');
    let assembly = this.assemblies.get(key);
    if (!assembly) {
      this.expire();
      if (this.assemblies.size + this.unannounced.size >= MAX_ASSEMBLIES) return this.answer(chunk.id, chunk.session, 'failed', 'import');
      assembly = {
        id: chunk.id,
        session: chunk.session,
        tuple: chunk.tuple,
        from: from >>> 0,
        parts: new Array<Buffer | undefined>(chunk.parts),
        arrived: 0,
        startedAt: this.options.now(),
      };
      this.assemblies.set(key, assembly);
    }
    if (assembly.from !== from >>> 0) return this.refuseChunk(chunk, from);
    // Parts that disagree with the first on their count or connection are not this session's state.
    if (assembly.parts.length !== chunk.parts || !sameTuple(assembly.tuple, chunk.tuple)) {
      this.assemblies.delete(key);
      return this.answer(chunk.id, chunk.session, 'malformed', 'import');
    }
    if (assembly.parts[chunk.part] !== undefined) return;
    assembly.parts[chunk.part] = chunk.bytes;
    assembly.arrived += 1;
    if (assembly.arrived < assembly.parts.length) return;
    this.assemblies.delete(key);
    const bytes = Buffer.concat(assembly.parts as Buffer[]);
    if (bytes.length > STATE_BLOB_MAX_BYTES) return this.answer(chunk.id, chunk.session, 'malformed', 'import');
    const whole = { assembly, blob: { tuple: assembly.tuple, bytes } };
    if (expectation === undefined) {
      this.unannounced.set(key, whole);
      return;
    }
    this.imports.push(whole);
    this.schedule('import');
  }

  private refuseChunk(chunk: StateChunk, from: number): void {
    this.options.metrics?.refused('stateChunk', 'not_expected');
    this.options.log?.warn({ session: chunk.session, nonce: chunk.id.nonce, from }, 'state from a host its run did not announce: refused');
  }

  /** State no announcement came for: refused, counted, and nothing answered (its sender is no party of a run here). */
  private refuse(assembly: Assembly, reason: 'not_expected'): void {
    this.options.metrics?.refused('stateChunk', reason);
    this.options.log?.warn({ session: assembly.session, nonce: assembly.id.nonce, from: assembly.from }, 'state no left anchor announced: refused');
  }

  /** Old instance: the channel gave up on a chunk (the new instance's host is unreachable); told once per run. */
  chunkUndelivered(chunk: StateChunk): void {
    const key = runKey(chunk.id, chunk.session);
    if (this.undelivered.has(key)) return;
    this.undelivered.add(key);
    if (this.undelivered.size > DROPPED_KEPT) this.undelivered.delete(this.undelivered.values().next().value!);
    this.answer(chunk.id, chunk.session, 'unreachable', 'export');
  }

  /** The left anchor canceled: forget what was imported for its run, and whatever of it still arrives. */
  drop(message: DropState): void {
    const key = runKey(message.id, message.session);
    this.dropped.add(key);
    if (this.dropped.size > DROPPED_KEPT) this.dropped.delete(this.dropped.values().next().value!);
    this.assemblies.delete(key);
    this.expected.delete(key);
    this.unannounced.delete(key);
    const done = this.imported.get(key);
    if (!done) return;
    this.imported.delete(key);
    void this.delete(done.tuple, 'dropState');
  }

  /** Batches under way finish, but send nothing more. */
  stop(): void {
    this.stopped = true;
  }

  /** Imports kept for a possible dropState. */
  get importsKept(): number {
    return this.imported.size;
  }

  private schedule(side: StateSide): void {
    if (this.flushing[side]) return;
    this.flushing[side] = true;
    // What arrives in the same turn of the event loop goes in one batch.
    setImmediate(() =>
      (side === 'export' ? this.flushExports() : this.flushImports()).catch((error: Error) => {
        this.options.log?.error({ side, err: error.message }, 'state batch failed');
        this.flushing[side] = false;
      }),
    );
  }

  private async flushExports(): Promise<void> {
    const batch = this.exports;
    this.exports = [];
    const outcomes = await this.adapterCall('export', batch.length, (adapter) => adapter.exportState(batch.map((r) => r.tuple)));
    batch.forEach((request, i) => {
      const outcome = outcomes?.[i];
      if (!outcome?.ok) return this.answer(request.id, request.session, outcome?.reason ?? 'failed', 'export');
      const size = outcome.blob.bytes.length;
      if (size === 0 || size > STATE_BLOB_MAX_BYTES) {
        this.options.log?.warn({ session: request.session, bytes: size, max: STATE_BLOB_MAX_BYTES }, 'exported state does not fit the transfer');
        return this.answer(request.id, request.session, 'failed', 'export');
      }
      if (this.stopped) return;
      for (const chunk of chunksOf(request, outcome.blob)) this.options.send(request.to, chunk);
      this.options.metrics?.stateMoved('export', 'ok');
    });
    this.afterFlush('export');
  }

  private async flushImports(): Promise<void> {
    const batch = this.imports;
    this.imports = [];
    const outcomes = await this.adapterCall('import', batch.length, (adapter) => adapter.importState(batch.map((b) => b.blob)));
    batch.forEach(({ assembly }, i) => {
      const outcome = outcomes?.[i];
      const key = runKey(assembly.id, assembly.session);
      this.expected.delete(key);
      if (outcome?.ok) {
        // Dropped while the import ran: undo it at once.
        if (this.dropped.has(key)) return void this.delete(assembly.tuple, 'dropState');
        this.imported.set(key, { tuple: assembly.tuple, at: this.options.now() });
        return this.answer(assembly.id, assembly.session, 'ok', 'import');
      }
      const reason = outcome?.reason ?? 'failed';
      // What did not read back as exported must not stay: the left anchor cancels and sends no dropState.
      if (reason === 'not_verified') void this.delete(assembly.tuple, 'not_verified');
      this.answer(assembly.id, assembly.session, reason, 'import');
    });
    this.expire();
    this.afterFlush('import');
  }

  /** One adapter call for a batch, timed; undefined when the whole conversation failed (logged). */
  private async adapterCall<R>(side: StateSide, sessions: number, call: (adapter: StateAdapter) => Promise<R[]>): Promise<R[] | undefined> {
    const adapter = this.options.adapter!;
    const startedAt = this.options.now();
    try {
      const outcomes = await call(adapter);
      this.options.metrics?.stateBatch(side, sessions, (this.options.now() - startedAt) / 1000);
      return outcomes;
    } catch (error) {
      this.options.log?.warn({ adapter: adapter.kind, sessions, err: (error as Error).message }, `state ${side} failed`);
      return undefined;
    }
  }

  private afterFlush(side: StateSide): void {
    this.flushing[side] = false;
    if ((side === 'export' ? this.exports : this.imports).length > 0) this.schedule(side);
  }

  private answer(id: ReconfigId, session: Tuple, result: 'ok' | StateTransferFailure, side: StateSide): void {
    if (result !== 'ok' || side === 'import') this.options.metrics?.stateMoved(side, result);
    if (result !== 'ok') this.options.log?.info({ session, nonce: id.nonce, side, result }, 'state not moved');
    if (!this.stopped) this.options.send(id.leftAnchor, { type: 'stateResult', id, session, result });
  }

  private async delete(tuple: Tuple, why: string): Promise<void> {
    try {
      await this.options.adapter!.deleteState([tuple]);
    } catch (error) {
      this.options.log?.warn({ tuple, why, err: (error as Error).message }, 'imported state not deleted');
    }
  }

  /** Forgets assemblies whose parts stopped coming and imports too old for their run to be canceled still. */
  private expire(): void {
    const now = this.options.now();
    const assemblyTimeout = this.options.assemblyTimeoutMs ?? 10_000;
    for (const [key, a] of this.assemblies) {
      if (now - a.startedAt < assemblyTimeout) continue;
      this.assemblies.delete(key);
      this.answer(a.id, a.session, 'malformed', 'import');
    }
    for (const [key, waiting] of this.unannounced) {
      if (now - waiting.assembly.startedAt < assemblyTimeout) continue;
      this.unannounced.delete(key);
      this.refuse(waiting.assembly, 'not_expected');
    }
    for (const [key, e] of this.expected) if (now - e.at >= assemblyTimeout) this.expected.delete(key);
    const kept = this.options.importKeptMs ?? 120_000;
    for (const [key, entry] of this.imported) if (now - entry.at >= kept) this.imported.delete(key);
  }
}
