// ConntrackAdapter on a stand-in binding: validation at the edge, the addon's answers → failure reasons, one call per
// batch. The addon's own checks (the entry is the named session's, the read-back) meet the real kernel in
// test/netns/conntrack-state.test.ts; the stand-in plays them by the same contract.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONNTRACK_NOT_VERIFIED, type NativeConntrackExport, type NativeConntrackSummary, type NativeTuple } from '../../src/native/binding';
import { ConntrackAdapter, type ConntrackBinding } from '../../src/state/conntrack-adapter';

const T: NativeTuple = { srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 40000, dstPort: 80 };
const reverse = (t: NativeTuple): NativeTuple => ({ srcIp: t.dstIp, dstIp: t.srcIp, srcPort: t.dstPort, dstPort: t.srcPort });
const summaryOf = (t: NativeTuple, extra: Partial<NativeConntrackSummary> = {}): NativeConntrackSummary => ({
  original: t,
  reply: reverse(t),
  tcpState: 3,
  timeoutSeconds: 432000,
  mark: 7,
  status: 0x0e,
  ...extra,
});

/** A namespace's table in memory: messages are JSON of the summary, so that tests can forge them. */
class FakeTable implements ConntrackBinding {
  readonly entries = new Map<string, NativeConntrackSummary>();
  /** what reads back differs from what was imported */
  tamper?: (s: NativeConntrackSummary) => NativeConntrackSummary;
  calls: string[] = [];
  private key = (t: NativeTuple) => `${t.srcIp}:${t.srcPort}>${t.dstIp}:${t.dstPort}`;

  conntrackExport(_ns: string, tuples: NativeTuple[]): NativeConntrackExport[] {
    this.calls.push(`export ${tuples.length}`);
    return tuples.map((t) => {
      const s = this.entries.get(this.key(t));
      return s ? { error: 0, message: Buffer.from(JSON.stringify(s)) } : { error: 2 };
    });
  }
  conntrackImport(_ns: string, messages: Buffer[], sessions: NativeTuple[]): number[] {
    this.calls.push(`import ${messages.length}`);
    return messages.map((m, i) => {
      const s = this.parse(m);
      if (!s || this.key(s.original) !== this.key(sessions[i]!)) return 22;
      if (this.entries.has(this.key(s.original))) return 17;
      const stored = this.tamper ? this.tamper(s) : s;
      this.entries.set(this.key(s.original), stored);
      return JSON.stringify(stored) === JSON.stringify(s) ? 0 : CONNTRACK_NOT_VERIFIED;
    });
  }
  conntrackDelete(_ns: string, tuples: NativeTuple[]): number[] {
    return tuples.map((t) => (this.entries.delete(this.key(t)) ? 0 : t.srcPort === 1 ? 1 : 2));
  }
  private parse(message: Buffer): NativeConntrackSummary | null {
    try {
      return JSON.parse(message.toString()) as NativeConntrackSummary;
    } catch {
      return null;
    }
  }
}

describe('ConntrackAdapter', () => {
  test('exports found entries and names the missing ones', async () => {
    const table = new FakeTable();
    table.entries.set(`${T.srcIp}:${T.srcPort}>${T.dstIp}:${T.dstPort}`, summaryOf(T));
    const adapter = new ConntrackAdapter({ binding: table });
    const out = await adapter.exportState([T, { ...T, srcPort: 40001 }]);
    assert.equal(out[0]!.ok, true);
    assert.deepEqual(out[1], { tuple: { ...T, srcPort: 40001 }, ok: false, reason: 'not_found' });
    assert.deepEqual(table.calls, ['export 2'], 'one batch for all');
  });

  test('imports, reads back, and refuses what is not the named session, already there, or reads back otherwise', async () => {
    const from = new FakeTable();
    const t2 = { ...T, srcPort: 40002 };
    const t3 = { ...T, srcPort: 40003 };
    for (const t of [T, t2, t3]) from.entries.set(`${t.srcIp}:${t.srcPort}>${t.dstIp}:${t.dstPort}`, summaryOf(t));
    const blobs = (await new ConntrackAdapter({ binding: from }).exportState([T, t2, t3])).map((o) => (o.ok ? o.blob : assert.fail('exported')));
    const to = new FakeTable();
    to.entries.set(`${t3.srcIp}:${t3.srcPort}>${t3.dstIp}:${t3.dstPort}`, summaryOf(t3));
    const adapter = new ConntrackAdapter({ binding: to, netnsPath: '/var/run/netns/x' });
    const out = await adapter.importState([
      blobs[0]!,
      { tuple: { ...T, srcPort: 1234 }, bytes: blobs[1]!.bytes }, // another session's state under this name
      blobs[2]!,
      { tuple: T, bytes: Buffer.from('not an entry') },
    ]);
    assert.deepEqual(
      out.map((o) => (o.ok ? 'ok' : o.reason)),
      ['ok', 'malformed', 'exists', 'malformed'],
    );
    assert.deepEqual(to.calls, ['import 4'], 'one call for the batch');

    const tampered = new FakeTable();
    tampered.tamper = (s) => ({ ...s, mark: 0 });
    const verified = await new ConntrackAdapter({ binding: tampered }).importState([blobs[0]!]);
    assert.deepEqual(verified, [{ tuple: T, ok: false, reason: 'not_verified' }]);
  });

  test('validates at the edge: tuples, the namespace path; delete tolerates what is already gone', async () => {
    const table = new FakeTable();
    const adapter = new ConntrackAdapter({ binding: table });
    await assert.rejects(adapter.exportState([{ ...T, srcPort: 0 }]), TypeError);
    await assert.rejects(adapter.exportState([{ ...T, dstIp: -1 }]), TypeError);
    assert.throws(() => new ConntrackAdapter({ binding: table, netnsPath: 'relative' }), TypeError);
    await adapter.deleteState([T]);
    await assert.rejects(adapter.deleteState([{ ...T, srcPort: 1 }]), /could not be deleted/);
    assert.deepEqual(await adapter.importState([]), []);
    const shapeless = await adapter.importState([{ tuple: { ...T, srcPort: 0 }, bytes: Buffer.alloc(1) }, { tuple: T } as never]);
    assert.deepEqual(
      shapeless.map((o) => !o.ok && o.reason),
      ['malformed', 'malformed'],
    );
    assert.deepEqual(table.calls, [], 'nothing reached the addon');
  });
});
