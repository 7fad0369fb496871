import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PARSE_STATUS_NAMES, TCP_OPTION_STATUS_NAMES } from '../../src/native/core-binding';
import { core } from '../support/native-core';

test('parse status names in TypeScript match the native list, in order', () => {
  assert.deepEqual([...core.parseStatusNames], [...PARSE_STATUS_NAMES]);
});

test('TCP option status names in TypeScript match the native list, in order', () => {
  assert.deepEqual([...core.tcpOptionStatusNames], [...TCP_OPTION_STATUS_NAMES]);
});
