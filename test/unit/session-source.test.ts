// The control API's session records from native summaries: state and role names from the generated
// lists, both tuples, and the handshake facts reconfiguration needs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DatapathSessionSource } from '../../src/agent/session-source';
import type { NativeSessionPage } from '../../src/native/binding';
import { SESSION_ROLES, SESSION_STATES } from '../../src/native/generated/codes';

test('a native summary becomes a SessionRecord with names and handshakes', async () => {
  const page: NativeSessionPage = {
    nextCursor: null,
    sessions: [
      {
        id: 4,
        state: SESSION_STATES.indexOf('established'),
        role: SESSION_ROLES.indexOf('middlebox'),
        leftSession: { srcIp: 0x0a000102, dstIp: 0x0a000402, srcPort: 5555, dstPort: 80 },
        leftSubsession: { srcIp: 0x0a000102, dstIp: 0x0a000202, srcPort: 61000, dstPort: 61002 },
        packets: 3,
        bytes: 300,
        idleMs: 1500,
        ruleId: -1,
        handshake: [
          { isn: 1000, windowScale: 7, sackPermitted: true, timestamps: true, tsVal: 1111 },
          { isn: 5000, windowScale: null, sackPermitted: false, timestamps: false, tsVal: 0 },
        ],
      },
    ],
  };
  const source = new DatapathSessionSource({ sessions: async () => page }, () => []);
  const { sessions } = await source.sessions(0, 10);
  assert.equal(sessions.length, 1);
  const [record] = sessions;
  assert.equal(record!.state, 'established');
  assert.equal(record!.role, 'middlebox');
  assert.deepEqual(record!.left, {
    session: { srcIp: '10.0.1.2', dstIp: '10.0.4.2', srcPort: 5555, dstPort: 80 },
    subsession: { srcIp: '10.0.1.2', dstIp: '10.0.2.2', srcPort: 61000, dstPort: 61002 },
  });
  assert.deepEqual(record!.handshake, {
    forward: { isn: 1000, windowScale: 7, sackPermitted: true, timestamps: true, tsVal: 1111 },
    reverse: { isn: 5000, windowScale: null, sackPermitted: false, timestamps: false, tsVal: 0 },
  });
  assert.equal(record!.idleSeconds, 1.5);
});
