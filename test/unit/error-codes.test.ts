import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { datapathOptions } from '../../src/agent/agent';
import { parseAgentConfig } from '../../src/agent/config';
import { nativeDatapathOptions } from '../../src/datapath/datapath';
import { native } from '../../src/native/binding';
import { callNative, callNativeAsync, DatapathError } from '../../src/native/errors';
import { DROP_REASON_MEANINGS, DROP_REASONS, ERROR_CODES, ERROR_MESSAGES, type ErrorCodeName } from '../../src/native/generated/codes';

describe('generated codes agree with the addon', () => {
  test('errorCodes: same names, same values', () => {
    const fromAddon = native().errorCodes;
    assert.equal(typeof fromAddon, 'object');
    assert.deepEqual({ ...fromAddon }, { ...ERROR_CODES });
  });

  test('dropReasons: same labels in the same order', () => {
    const fromAddon = native().dropReasons;
    assert.ok(Array.isArray(fromAddon));
    assert.deepEqual([...fromAddon], [...DROP_REASONS]);
  });
});

describe('generated codes are well formed', () => {
  test('error codes are unique non-negative integers, OK is 0', () => {
    const values = Object.values(ERROR_CODES);
    for (const value of values) assert.ok(Number.isInteger(value) && value >= 0, String(value));
    assert.equal(new Set(values).size, values.length, 'duplicate error code values');
    assert.equal(ERROR_CODES.OK, 0);
    for (const name of Object.keys(ERROR_CODES)) assert.match(name, /^[A-Z][A-Z0-9_]*$/);
  });

  test('every error code and drop reason has a message', () => {
    assert.deepEqual(Object.keys(ERROR_MESSAGES).sort(), Object.keys(ERROR_CODES).sort());
    for (const message of Object.values(ERROR_MESSAGES)) assert.ok(message.length > 0);
    assert.deepEqual(Object.keys(DROP_REASON_MEANINGS).sort(), [...DROP_REASONS].sort());
    assert.equal(new Set(DROP_REASONS).size, DROP_REASONS.length, 'duplicate drop reasons');
    for (const reason of DROP_REASONS) assert.match(reason, /^[a-z][a-z0-9_]*$/, 'drop reasons are valid Prometheus label values');
  });
});

describe('DatapathError', () => {
  test('from() maps an Error with a known code', () => {
    const original = Object.assign(new Error('rte_eth_dev_configure: -22'), { code: 'PORT_SETUP_FAILED' });
    const mapped = DatapathError.from(original);
    assert.ok(mapped instanceof DatapathError);
    assert.ok(mapped instanceof Error);
    assert.equal(mapped.name, 'DatapathError');
    assert.equal(mapped.code, 'PORT_SETUP_FAILED');
    assert.equal(mapped.status, ERROR_CODES.PORT_SETUP_FAILED);
    assert.equal(mapped.message, 'rte_eth_dev_configure: -22');
    assert.equal(mapped.cause, original);
  });

  test('from() maps every known code', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCodeName[]) {
      const mapped = DatapathError.from(Object.assign(new Error('x'), { code }));
      assert.ok(mapped instanceof DatapathError, code);
      assert.equal(mapped.code, code);
      assert.equal(mapped.status, ERROR_CODES[code]);
    }
  });

  test('from() keeps other errors unchanged', () => {
    const plain = new Error('boom');
    assert.equal(DatapathError.from(plain), plain);
    const system = Object.assign(new Error('no such file'), { code: 'ENOENT' });
    assert.equal(DatapathError.from(system), system);
    const numeric = Object.assign(new Error('numeric'), { code: 3 });
    assert.equal(DatapathError.from(numeric), numeric);
    const typeError = new TypeError('bad');
    assert.equal(DatapathError.from(typeError), typeError);
    const notAnError = { code: 'EAL_INIT_FAILED', message: 'duck' };
    assert.equal(DatapathError.from(notAnError), notAnError);
    assert.equal(DatapathError.from('EAL_INIT_FAILED'), 'EAL_INIT_FAILED');
    assert.equal(DatapathError.from(undefined), undefined);
    const already = new DatapathError('NOT_RUNNING');
    assert.equal(DatapathError.from(already), already);
  });

  test('the default message comes from ERROR_MESSAGES', () => {
    const error = new DatapathError('EAL_CLEANED_UP');
    assert.equal(error.message, ERROR_MESSAGES.EAL_CLEANED_UP);
    assert.equal(error.status, 15);
  });

  test('callNative and callNativeAsync wrap addon errors', async () => {
    assert.equal(
      callNative(() => 7),
      7,
    );
    assert.throws(
      () =>
        callNative(() => {
          throw Object.assign(new Error('busy'), { code: 'ALREADY_RUNNING' });
        }),
      (error: unknown) => error instanceof DatapathError && error.code === 'ALREADY_RUNNING',
    );
    await assert.rejects(
      callNativeAsync(() => Promise.reject(Object.assign(new Error('full'), { code: 'REQUEST_RING_FULL' }))),
      (error: unknown) => error instanceof DatapathError && error.code === 'REQUEST_RING_FULL',
    );
    const other = new RangeError('other');
    await assert.rejects(
      callNativeAsync(() => Promise.reject(other)),
      (error: unknown) => error === other,
    );
  });

  test("callNativeAsync rejects with the caller's stack, captured before the call", async () => {
    // As the event ring settles a request: later, from a callback with none of the caller's frames.
    const settledLater = () =>
      new Promise<never>((_, reject) => setImmediate(() => reject(Object.assign(new Error('refused'), { code: 'NOT_RUNNING' }))));
    // A plain function handing the promise on: V8's async stack traces cannot name it, only an early capture can.
    function theCallerOfTheRequest(): Promise<void> {
      return callNativeAsync(settledLater);
    }
    await assert.rejects(theCallerOfTheRequest(), (error: unknown) => {
      assert.ok(error instanceof DatapathError);
      assert.equal(error.code, 'NOT_RUNNING');
      assert.equal(error.message, 'refused');
      assert.match(error.stack ?? '', /^DatapathError: refused\n/);
      assert.match(error.stack ?? '', /theCallerOfTheRequest/);
      assert.doesNotMatch((error.cause as Error).stack ?? '', /theCallerOfTheRequest/, 'the raw rejection has no caller frames');
      return true;
    });
  });

  test('real addon status errors map to DatapathError (no EAL needed)', () => {
    const binding = native();
    assert.equal(binding.ealState(), 'uninitialised', 'these unit tests never initialise the EAL');
    const config = parseAgentConfig({ host: { device: 'net_null0' }, wire: { device: 'net_null1' } });
    const datapath = new binding.Datapath(nativeDatapathOptions(datapathOptions(config)));
    try {
      let raw: unknown;
      try {
        datapath.open();
      } catch (error) {
        raw = error;
      }
      assert.ok(raw instanceof Error, 'open() without the EAL throws');
      assert.equal((raw as Error & { code?: unknown }).code, 'EAL_NOT_INITIALISED');
      assert.equal((raw as Error & { status?: unknown }).status, ERROR_CODES.EAL_NOT_INITIALISED);
      const mapped = DatapathError.from(raw);
      assert.ok(mapped instanceof DatapathError);
      assert.equal(mapped.code, 'EAL_NOT_INITIALISED');
      assert.equal(mapped.status, (raw as Error & { status: number }).status);
      assert.throws(
        () => callNative(() => datapath.start()),
        (error: unknown) => error instanceof DatapathError && error.code === 'NOT_RUNNING' && error.status === ERROR_CODES.NOT_RUNNING,
      );
    } finally {
      datapath.close();
    }
  });

  test('argument errors from the addon are TypeErrors, left unchanged', () => {
    let thrown: unknown;
    try {
      (native().ealInit as (args: unknown) => string)('not an array');
    } catch (error) {
      thrown = error;
    }
    assert.ok(thrown instanceof TypeError);
    assert.equal(DatapathError.from(thrown), thrown);
  });

  test('from() ignores codes that are only Object.prototype keys', () => {
    const inherited = Object.assign(new Error('proto'), { code: 'toString' });
    assert.equal(DatapathError.from(inherited), inherited);
  });
});
