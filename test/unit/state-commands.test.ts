// CommandAdapter with real processes: a small state store of our own as the operator's commands (one process per
// batch, JSON lines both ways), and commands that answer badly, fail, hang or talk too much.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CommandAdapter } from '../../src/state/command-adapter';

const dir = mkdtempSync(join(tmpdir(), 'dysco-state-commands-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// The store: one file per session under its directory; `calls` counts the processes.
const STORE = join(dir, 'store.js');
writeFileSync(
  STORE,
  `const fs = require('fs'), path = require('path');
const [mode, root] = process.argv.slice(2);
fs.appendFileSync(path.join(root, 'calls'), mode + '\\n');
const name = (t) => path.join(root, t.srcIp + '_' + t.srcPort + '_' + t.dstIp + '_' + t.dstPort);
const out = fs.readFileSync(0, 'utf8').split('\\n').filter(Boolean).map((line) => {
  const { tuple, state } = JSON.parse(line);
  if (mode === 'export') return fs.existsSync(name(tuple)) ? { state: fs.readFileSync(name(tuple)).toString('base64') } : { error: 'not_found' };
  if (mode === 'import') {
    if (fs.existsSync(name(tuple))) return { error: 'exists' };
    fs.writeFileSync(name(tuple), Buffer.from(state, 'base64'));
    return { ok: true };
  }
  fs.rmSync(name(tuple), { force: true });
  return { ok: true };
});
process.stdout.write(out.map((o) => JSON.stringify(o)).join('\\n') + '\\n');
`,
);
const store = (root: string) => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  return new CommandAdapter({
    exportCommand: [process.execPath, STORE, 'export', root],
    importCommand: [process.execPath, STORE, 'import', root],
    deleteCommand: [process.execPath, STORE, 'delete', root],
  });
};
const script = (name: string, body: string) => {
  const file = join(dir, name);
  writeFileSync(file, body);
  return [process.execPath, file];
};

const T = { srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 40000, dstPort: 80 };
const T2 = { ...T, srcPort: 40001 };

describe('CommandAdapter', () => {
  test('moves state between two stores in one process per batch, and names what is missing or already there', async () => {
    const a = store(join(dir, 'a'));
    const b = store(join(dir, 'b'));
    writeFileSync(join(dir, 'a', '10.0.0.1_40000_10.0.0.2_80'), Buffer.from([1, 2, 3, 0xff]));
    const exported = await a.exportState([T, T2]);
    assert.deepEqual(exported.map((o) => (o.ok ? o.blob.bytes : o.reason)), [Buffer.from([1, 2, 3, 0xff]), 'not_found']);
    const blob = exported[0]!.ok ? exported[0]!.blob : assert.fail();
    assert.deepEqual(await b.importState([blob, { tuple: T2, bytes: Buffer.alloc(0) }]), [{ tuple: T, ok: true }, { tuple: T2, ok: true }]);
    assert.deepEqual(await b.importState([blob]), [{ tuple: T, ok: false, reason: 'exists' }]);
    await b.deleteState([T, T2]);
    assert.deepEqual((await b.exportState([T])).map((o) => !o.ok && o.reason), ['not_found']);
    assert.equal(readFileSync(join(dir, 'a', 'calls'), 'utf8'), 'export\n', 'one process for the batch');
  });

  test('an answer that is no such line fails its session only; a bad exit, a hang or too much output fails the call', async () => {
    const liar = script('liar.js', `require('fs').readFileSync(0); console.log('{"state":"AQ=="}'); console.log('not json'); console.log('{"state":"!!"}'); console.log('{"error":"weird"}');`);
    const adapter = new CommandAdapter({ exportCommand: liar, importCommand: liar });
    const out = await adapter.exportState([T, T2, { ...T, srcPort: 3 }, { ...T, srcPort: 4 }, { ...T, srcPort: 5 }]);
    assert.deepEqual(out.map((o) => (o.ok ? 'ok' : o.reason)), ['ok', 'failed', 'failed', 'failed', 'failed']);

    const failing = script('fail.js', `process.stderr.write('no such firewall\\n'); process.exit(3);`);
    await assert.rejects(new CommandAdapter({ exportCommand: failing, importCommand: failing }).exportState([T]), /exited with 3: no such firewall/);
    const hanging = script('hang.js', `setTimeout(() => {}, 60000);`);
    await assert.rejects(new CommandAdapter({ exportCommand: hanging, importCommand: hanging, timeoutMs: 200 }).exportState([T]), /no answer within 200 ms/);
    const chatty = script('chatty.js', `process.stdout.write('x'.repeat(100000));`);
    await assert.rejects(new CommandAdapter({ exportCommand: chatty, importCommand: chatty, maxOutputBytes: 1000 }).exportState([T]), /more than 1000 bytes/);
    await assert.rejects(new CommandAdapter({ exportCommand: ['/nonexistent/tool'], importCommand: chatty }).exportState([T]), /ENOENT/);
  });

  test('validates at the edge', async () => {
    assert.throws(() => new CommandAdapter({ exportCommand: [], importCommand: ['x'] }), TypeError);
    assert.throws(() => new CommandAdapter({ exportCommand: ['x'], importCommand: ['x'], timeoutMs: 0 }), TypeError);
    const adapter = store(join(dir, 'c'));
    await assert.rejects(adapter.exportState([{ ...T, dstPort: 0 }]), TypeError);
    assert.deepEqual(await adapter.importState([{ tuple: { ...T, srcIp: -1 }, bytes: Buffer.alloc(1) }]), [
      { tuple: { ...T, srcIp: -1 }, ok: false, reason: 'malformed' },
    ]);
    assert.deepEqual(await adapter.exportState([]), []);
  });
});
