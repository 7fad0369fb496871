// The state mover on its own: batches per turn, chunks put back together, parts that disagree, an import that does
// not read back undone, a dropped run's import undone and its late chunks ignored, no adapter.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chunksOf, StateMover } from '../../src/agent/state-mover';
import { STATE_CHUNK_BYTES } from '../../src/control/codec';
import type { ReconfigMessage, StateChunk, Tuple } from '../../src/reconfig/messages';
import type { ImportOutcome, StateAdapter, StateBlob } from '../../src/state/state-adapter';

const L = 0x0a000001;
const NEW = 0x0a000004;
const OLD = 0x0a000003;
const ROGUE = 0x0a000009;
const S: Tuple = { srcIp: L, dstIp: 0x0a000002, srcPort: 40000, dstPort: 80 };
const id = (nonce: number) => ({ leftAnchor: L, nonce });
const turn = () => new Promise((resolve) => setImmediate(resolve));

class Store implements StateAdapter {
  readonly kind = 'test';
  readonly calls: string[] = [];
  readonly imported: StateBlob[] = [];
  readonly deleted: Tuple[] = [];
  importAnswer: (blob: StateBlob) => ImportOutcome = (blob) => ({ tuple: blob.tuple, ok: true });
  async exportState(tuples: readonly Tuple[]) {
    this.calls.push(`export ${tuples.length}`);
    return tuples.map((tuple) => ({ tuple, ok: true as const, blob: { tuple, bytes: Buffer.alloc(3000, tuple.srcPort & 0xff) } }));
  }
  async importState(blobs: readonly StateBlob[]) {
    this.calls.push(`import ${blobs.length}`);
    this.imported.push(...blobs);
    return blobs.map((b) => this.importAnswer(b));
  }
  async deleteState(tuples: readonly Tuple[]) {
    this.deleted.push(...tuples);
  }
}

function mover(adapter: StateAdapter | undefined, clock = { ms: 0 }) {
  const sent: { to: number; message: ReconfigMessage }[] = [];
  const refused: string[] = [];
  const metrics = { refused: (type: string, reason: string) => refused.push(`${type} ${reason}`), stateMoved: () => {}, stateBatch: () => {}, stateDeleted: () => {}, finished: () => {} };
  const m = new StateMover({ adapter, send: (to, message) => sent.push({ to, message }), now: () => clock.ms, metrics });
  return { m, sent, refused };
}

/** The left anchor's announcement of run `nonce`'s state from OLD. */
const announce = (m: StateMover, nonce: number, session = S) => m.expect({ type: 'expectState', id: id(nonce), session, from: OLD });

const session = (port: number): Tuple => ({ ...S, srcPort: port });

describe('StateMover', () => {
  test('exports of one turn go in one batch; each session\'s state leaves in chunks to the new instance', async () => {
    const store = new Store();
    const { m, sent } = mover(store);
    for (const port of [40001, 40002, 40003]) m.exportState({ id: id(port), session: session(port), tuple: session(port), to: NEW });
    await turn();
    await turn();
    assert.deepEqual(store.calls, ['export 3']);
    assert.equal(sent.length, 9, 'three chunks for each 3000 bytes (1420 a chunk)');
    assert.ok(sent.every((s) => s.to === NEW && s.message.type === 'stateChunk'));
  });

  test('state larger than a transfer carries (48 chunks) fails its session at the old instance, nothing is sent', async () => {
    const store = new Store();
    store.exportState = async (tuples: readonly Tuple[]) => tuples.map((tuple) => ({ tuple, ok: true as const, blob: { tuple, bytes: Buffer.alloc(48 * STATE_CHUNK_BYTES + 1) } }));
    const { m, sent } = mover(store);
    m.exportState({ id: id(9), session: S, tuple: S, to: NEW });
    await turn();
    await turn();
    assert.deepEqual(sent, [{ to: L, message: { type: 'stateResult', id: id(9), session: S, result: 'failed' } }]);
  });

  test('the chunks, in any order, become one import; the left anchor hears ok', async () => {
    const store = new Store();
    const { m, sent } = mover(store);
    const blob = { tuple: S, bytes: Buffer.from(Array.from({ length: 2 * STATE_CHUNK_BYTES + 5 }, (_, i) => i & 0xff)) };
    const chunks = chunksOf({ id: id(1), session: S, tuple: S, to: NEW }, blob);
    assert.equal(chunks.length, 3);
    announce(m, 1);
    for (const chunk of [chunks[2]!, chunks[0]!, chunks[0]!, chunks[1]!]) m.receiveChunk(chunk, OLD);
    await turn();
    await turn();
    assert.deepEqual(store.calls, ['import 1']);
    assert.ok(store.imported[0]!.bytes.equals(blob.bytes), 'byte for byte');
    assert.deepEqual(sent, [{ to: L, message: { type: 'stateResult', id: id(1), session: S, result: 'ok' } }]);
    assert.equal(m.importsKept, 1);
  });

  test('parts that disagree on their count or connection are malformed, and nothing is imported', async () => {
    const store = new Store();
    const { m, sent } = mover(store);
    const chunk: StateChunk = { type: 'stateChunk', id: id(2), session: S, tuple: S, part: 0, parts: 2, bytes: Buffer.from('a') };
    announce(m, 2);
    m.receiveChunk(chunk, OLD);
    m.receiveChunk({ ...chunk, part: 1, parts: 3 }, OLD);
    await turn();
    assert.deepEqual(store.calls, []);
    assert.deepEqual(sent.map((s) => s.message.type === 'stateResult' && s.message.result), ['malformed']);
  });

  test('an import that does not read back is deleted at once, and the left anchor told why', async () => {
    const store = new Store();
    store.importAnswer = (b) => ({ tuple: b.tuple, ok: false, reason: 'not_verified' });
    const { m, sent } = mover(store);
    announce(m, 3);
    for (const c of chunksOf({ id: id(3), session: S, tuple: S, to: NEW }, { tuple: S, bytes: Buffer.from('x') })) m.receiveChunk(c, OLD);
    await turn();
    await turn();
    assert.deepEqual(store.deleted, [S]);
    assert.deepEqual(sent.map((s) => s.message.type === 'stateResult' && s.message.result), ['not_verified']);
    assert.equal(m.importsKept, 0);
  });

  test('dropState undoes the run\'s import; its chunks arriving later are ignored', async () => {
    const store = new Store();
    const { m } = mover(store);
    const chunks = chunksOf({ id: id(4), session: S, tuple: S, to: NEW }, { tuple: S, bytes: Buffer.from('y') });
    announce(m, 4);
    for (const c of chunks) m.receiveChunk(c, OLD);
    await turn();
    await turn();
    m.drop({ type: 'dropState', id: id(4), session: S });
    await turn();
    assert.deepEqual(store.deleted, [S]);
    // Another run's state dropped before its chunks came: they never import.
    m.drop({ type: 'dropState', id: id(5), session: S });
    for (const c of chunksOf({ id: id(5), session: S, tuple: S, to: NEW }, { tuple: S, bytes: Buffer.from('z') })) m.receiveChunk(c, OLD);
    await turn();
    await turn();
    assert.deepEqual(store.calls, ['import 1']);
  });

  test('state whole before its announcement waits for it; state from a host the run did not name is refused unread', async () => {
    const store = new Store();
    const { m, sent, refused } = mover(store);
    const blob = { tuple: S, bytes: Buffer.from('early') };
    for (const c of chunksOf({ id: id(10), session: S, tuple: S, to: NEW }, blob)) m.receiveChunk(c, OLD);
    await turn();
    assert.deepEqual(store.calls, [], 'not imported before the left anchor announced it');
    announce(m, 10);
    await turn();
    await turn();
    assert.deepEqual(store.calls, ['import 1']);
    assert.deepEqual(sent.map((x) => x.message.type === 'stateResult' && x.message.result), ['ok']);
    // Announced from OLD, sent by another host: refused, nothing imported, nothing answered.
    announce(m, 11);
    for (const c of chunksOf({ id: id(11), session: S, tuple: S, to: NEW }, blob)) m.receiveChunk(c, ROGUE);
    // Unannounced, the parts of one state from two hosts: the second's are refused.
    const two = chunksOf({ id: id(12), session: S, tuple: S, to: NEW }, { tuple: S, bytes: Buffer.alloc(2000, 1) });
    m.receiveChunk(two[0]!, OLD);
    m.receiveChunk(two[1]!, ROGUE);
    await turn();
    await turn();
    assert.deepEqual(store.calls, ['import 1']);
    assert.deepEqual(refused, ['stateChunk not_expected', 'stateChunk not_expected']);
    assert.equal(sent.length, 1);
  });

  test('state no announcement ever comes for is refused when its time runs out, and nobody is answered', async () => {
    const store = new Store();
    const clock = { ms: 0 };
    const { m, sent, refused } = mover(store, clock);
    for (const c of chunksOf({ id: id(20), session: S, tuple: S, to: NEW }, { tuple: S, bytes: Buffer.from('orphan') })) m.receiveChunk(c, ROGUE);
    clock.ms = 11_000;
    announce(m, 21); // any later call expires what is due
    await turn();
    assert.deepEqual([store.calls, sent, refused], [[], [], ['stateChunk not_expected']]);
  });

  test('without an adapter every request is answered no_adapter; an undeliverable chunk is reported once', async () => {
    const { m, sent } = mover(undefined);
    m.exportState({ id: id(6), session: S, tuple: S, to: NEW });
    const [chunk] = chunksOf({ id: id(7), session: S, tuple: S, to: NEW }, { tuple: S, bytes: Buffer.from('w') });
    m.receiveChunk(chunk!, OLD);
    const store = mover(new Store());
    store.m.chunkUndelivered(chunk!);
    store.m.chunkUndelivered(chunk!);
    assert.deepEqual(sent.map((s) => s.message.type === 'stateResult' && s.message.result), ['no_adapter', 'no_adapter']);
    assert.deepEqual(store.sent.map((s) => s.message.type === 'stateResult' && s.message.result), ['unreachable']);
  });
});
