// src/security/key-ring.ts: key rings from config and key files, every problem named, rotation by reload, and a
// failed reload that keeps the ring in use.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { KEY_BYTES, KeyRing, KeyRingError, KeyRingSource } from '../../src/security/key-ring';

const dir = mkdtempSync(join(tmpdir(), 'dysco-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const hexKey = (fill: string) => fill.repeat(2 * KEY_BYTES);
function keyFile(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}
const problemsOf = (raw: unknown) => {
  try {
    KeyRing.parse(raw);
    return [];
  } catch (error) {
    assert.ok(error instanceof KeyRingError);
    return error.problems;
  }
};

describe('key rings', () => {
  test('several ids accepted, one signing; keys by id, unknown ids none', () => {
    const ring = KeyRing.parse({ keys: [{ id: 7, key: hexKey('a') }, { id: 3, key: hexKey('b') }], signingKeyId: 7 });
    assert.deepEqual(ring.ids, [3, 7]);
    assert.equal(ring.signing.id, 7);
    assert.deepEqual(ring.signing.key, Buffer.alloc(KEY_BYTES, 0xaa));
    assert.deepEqual(ring.key(3), Buffer.alloc(KEY_BYTES, 0xbb));
    assert.equal(ring.key(4), undefined);
  });

  test('bad rings are refused with every problem named', () => {
    assert.deepEqual(problemsOf({ keys: [], signingKeyId: 1 }), ['keys: name at least one key', 'signingKeyId: signingKeyId 1 names no key of the ring']);
    assert.deepEqual(
      problemsOf({ keys: [{ id: 1, key: 'zz' }, { id: 0, key: hexKey('1') }, { id: 2, key: hexKey('1').slice(2) }], signingKeyId: 1 }),
      ['keys.0.key: must be hexadecimal', 'keys.0.key: must be 16 bytes (32 hex digits)', 'keys.1.id: Number must be greater than or equal to 1', 'keys.2.key: must be 16 bytes (32 hex digits)'],
    );
    assert.deepEqual(problemsOf({ keys: [{ id: 1, key: hexKey('1') }, { id: 1, key: hexKey('2') }], signingKeyId: 2 }), [
      'keys.1.id: key id 1 is given twice',
      'signingKeyId: signingKeyId 2 names no key of the ring',
    ]);
    assert.deepEqual(problemsOf({ keys: [{ id: 1, key: hexKey('1') }], signingKeyId: 1, extra: true }), ["(ring): Unrecognized key(s) in object: 'extra'"]);
  });

  test('a key file must be its owner\'s alone, and YAML or JSON', () => {
    const good = keyFile('good.yaml', `keys:\n  - id: 1\n    key: "${hexKey('c')}"\nsigningKeyId: 1\n`);
    assert.equal(KeyRing.fromFile(good).signing.id, 1);
    const open = keyFile('open.json', JSON.stringify({ keys: [{ id: 1, key: hexKey('c') }], signingKeyId: 1 }), 0o644);
    assert.throws(() => KeyRing.fromFile(open), /readable by others \(mode 644\); chmod 600 it/);
    assert.throws(() => KeyRing.fromFile(keyFile('bad.yaml', 'keys: [\n')), /is not YAML or JSON/);
    assert.throws(() => KeyRing.fromFile(join(dir, 'missing.yaml')), /cannot read key file/);
    assert.throws(() => KeyRing.fromFile(keyFile('empty.yaml', 'signingKeyId: 1\n')), /key file .*keys: Required/);
  });

  test('rotation by reload: the new key joins, then signs; a broken file keeps the ring in use', () => {
    const path = keyFile('ring.yaml', JSON.stringify({ keys: [{ id: 1, key: hexKey('1') }], signingKeyId: 1 }));
    const outcomes: unknown[] = [];
    const source = new KeyRingSource(path, (o) => outcomes.push(o));
    const write = (ring: unknown) => keyFile('ring.yaml', typeof ring === 'string' ? ring : JSON.stringify(ring));
    write({ keys: [{ id: 1, key: hexKey('1') }, { id: 2, key: hexKey('2') }], signingKeyId: 1 });
    assert.equal(source.reload(), true);
    assert.deepEqual([source.current.ids, source.current.signing.id], [[1, 2], 1]);
    write({ keys: [{ id: 1, key: hexKey('1') }, { id: 2, key: hexKey('2') }], signingKeyId: 2 });
    source.reload();
    assert.equal(source.current.signing.id, 2);
    write('keys: oops');
    assert.equal(source.reload(), false);
    assert.deepEqual([source.current.ids, source.current.signing.id], [[1, 2], 2], 'the ring in use stays');
    assert.deepEqual(outcomes.slice(0, 2), [{ ok: true, ids: [1, 2], signingKeyId: 1 }, { ok: true, ids: [1, 2], signingKeyId: 2 }]);
    assert.match((outcomes[2] as { error: string }).error, /keys: Expected array/);
  });
});
