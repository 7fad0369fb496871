// POST /v1/reconfigure and `dysco ctl reconfigure`: validation at both edges, the request and response shapes, and
// the table. The agent side is a recording Reconfigurer (the composition has its own tests).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiClient, ApiError } from '../../src/api/client';
import { HttpError, parseReconfigureBody, startApiServer, type ApiServer } from '../../src/api/server';
import type { ReconfigureCommand, ReconfigureSessionResult, Reconfigurer } from '../../src/api/types';
import { formatReconfigureResults } from '../../src/cli/ctl/format';
import { runReconfigure } from '../../src/cli/ctl/handler';
import { parseFilterArg, parseSessionArg, reconfigureBodyFromArgs, type ReconfigureArgs } from '../../src/cli/ctl/options';
import { UserError } from '../../src/cli/shared/user-error';
import { formatIpv4, parseIpv4 } from '../../src/net/ipv4';
import { PolicyStore } from '../../src/policy/store';
import { parsedArgs } from '../support/cli-args';

const ip = (text: string) => parseIpv4(text)!;
const SESSION = { srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 40000, dstPort: 5201 };

const problemsOf = (body: unknown): string[] => {
  try {
    parseReconfigureBody(body);
  } catch (error) {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 400);
    return error.details ?? [];
  }
  return [];
};

describe('parseReconfigureBody', () => {
  test('a session, the right anchor and the new middleboxes, as host-order numbers; the wait defaults', () => {
    assert.deepEqual(parseReconfigureBody({ session: SESSION, rightAnchor: '10.0.0.2', via: ['10.0.0.5', '10.0.0.6'] }), {
      session: { srcIp: ip('10.0.0.1'), dstIp: ip('10.0.0.2'), srcPort: 40000, dstPort: 5201 },
      rightAnchor: ip('10.0.0.2'),
      via: [ip('10.0.0.5'), ip('10.0.0.6')],
      timeoutMs: 60_000,
    });
    assert.deepEqual(parseReconfigureBody({ filter: { dstPort: 5201 }, rightAnchor: '10.0.0.2', via: [], timeoutMs: 500 }), {
      filter: { dstPort: 5201 },
      rightAnchor: ip('10.0.0.2'),
      via: [],
      timeoutMs: 500,
    });
  });

  test('every problem is named', () => {
    assert.deepEqual(problemsOf([]), ['body: not an object']);
    assert.deepEqual(problemsOf({ rightAnchor: '10.0.0.2', via: [] }), ['session, filter: give exactly one of the two']);
    assert.deepEqual(problemsOf({ session: SESSION, filter: { dstPort: 1 }, rightAnchor: '10.0.0.2', via: [] }), ['session, filter: give exactly one of the two']);
    assert.deepEqual(problemsOf({ session: { ...SESSION, dstPort: undefined, srcIp: '10.0.0.300', extra: 1 }, rightAnchor: '10.0.0.2', via: [] }), [
      'session.extra: unknown field',
      'session.srcIp: must be a dotted IPv4 address (got "10.0.0.300")',
      'session.dstPort: required',
    ]);
    assert.deepEqual(problemsOf({ filter: {}, rightAnchor: '10.0.0.2', via: [] }), ['filter: name at least one of srcIp, dstIp, srcPort, dstPort']);
    assert.deepEqual(problemsOf({ filter: { srcPort: 70000 }, rightAnchor: 'b', via: ['10.0.0.5', '10.0.0.5'], bogus: true }), [
      'bogus: unknown field',
      'filter.srcPort: must be a port number 0..65535 (got 70000)',
      'rightAnchor: must be a dotted IPv4 address (got "b")',
      'via: names a middlebox twice',
    ]);
    assert.deepEqual(problemsOf({ session: SESSION, rightAnchor: '10.0.0.2', via: ['10.0.0.2'] }), ['via: names the right anchor']);
    assert.deepEqual(problemsOf({ session: SESSION, via: '10.0.0.5' }), ['rightAnchor: required', 'via: must be an array of IPv4 addresses (empty removes the middleboxes)']);
    assert.deepEqual(problemsOf({ session: SESSION, rightAnchor: '10.0.0.2', via: Array.from({ length: 32 }, (_, i) => `10.1.0.${i}`) }), ['via: at most 31 middleboxes']);
    assert.deepEqual(problemsOf({ session: SESSION, rightAnchor: '10.0.0.2', via: [], timeoutMs: 0 }), ['timeoutMs: must be an integer from 1 to 600000']);
  });
});

class RecordingReconfigurer implements Reconfigurer {
  readonly commands: ReconfigureCommand[] = [];
  async reconfigure(command: ReconfigureCommand): Promise<ReconfigureSessionResult[]> {
    this.commands.push(command);
    const s = command.session!;
    const session = { srcIp: formatIpv4(s.srcIp), dstIp: formatIpv4(s.dstIp), srcPort: s.srcPort, dstPort: s.dstPort };
    return command.via.length > 0
      ? [{ session, sessionId: 4, nonce: 9, outcome: 'completed', durationMs: 1.25 }]
      : [{ session, sessionId: 4, nonce: 10, outcome: 'failed', reason: 'locked', durationMs: 0.5 }];
  }
}

describe('POST /v1/reconfigure and dysco ctl reconfigure', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dysco-reconfigure-'));
  const api = join(dir, 'agent.sock');
  const off = join(dir, 'off.sock');
  const reconfigurer = new RecordingReconfigurer();
  let servers: ApiServer[] = [];
  const sessions = { sessions: async () => ({ sessions: [], nextCursor: null }) };
  before(async () => {
    servers = [
      await startApiServer({ store: new PolicyStore({ sink: { installPolicies: async () => undefined } }), sessions, reconfigurer, socketPath: api }),
      await startApiServer({ store: new PolicyStore({ sink: { installPolicies: async () => undefined } }), sessions, socketPath: off }),
    ];
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('the client posts the body and gets the results', async () => {
    const { results } = await new ApiClient(api).reconfigure({ session: SESSION, rightAnchor: '10.0.0.2', via: ['10.0.0.5'], timeoutMs: 1000 });
    assert.deepEqual(results, [{ session: SESSION, sessionId: 4, nonce: 9, outcome: 'completed', durationMs: 1.25 }]);
    assert.deepEqual(reconfigurer.commands.at(-1), { session: { srcIp: ip('10.0.0.1'), dstIp: ip('10.0.0.2'), srcPort: 40000, dstPort: 5201 }, rightAnchor: ip('10.0.0.2'), via: [ip('10.0.0.5')], timeoutMs: 1000 });
  });

  test('a bad body is a 400 with details; an agent without reconfiguration answers 503; GET is 405', async () => {
    await assert.rejects(new ApiClient(api).reconfigure({ rightAnchor: 'x', via: [] }), (e: Error) => e instanceof ApiError && e.status === 400 && e.details?.length === 2);
    await assert.rejects(new ApiClient(off).reconfigure({ session: SESSION, rightAnchor: '10.0.0.2', via: [] }), (e: Error) => e instanceof ApiError && e.status === 503 && /dysco\.controlPort/.test(e.message));
    await assert.rejects(new ApiClient(api).call('GET', '/v1/reconfigure'), (e: Error) => e instanceof ApiError && e.status === 405);
  });

  test('ctl prints a table per session, or JSON; a run that did not complete sets exit code 1', async () => {
    const out: string[] = [];
    const exitCode = process.exitCode;
    try {
      await runReconfigure({ api, session: '10.0.0.1:40000-10.0.0.2:5201', rightAnchor: '10.0.0.2', via: '10.0.0.5' }, (t) => out.push(t));
      assert.equal(process.exitCode, exitCode);
      assert.deepEqual(out, [['SESSION                        ID  OUTCOME    REASON  TIME_MS', '10.0.0.1:40000->10.0.0.2:5201   4  completed  -           1.3'].join('\n')]);
      await runReconfigure({ api, session: '10.0.0.1:40000->10.0.0.2:5201', rightAnchor: '10.0.0.2', json: true }, (t) => out.push(t));
      assert.deepEqual(JSON.parse(out[1]!), { results: [{ session: SESSION, sessionId: 4, nonce: 10, outcome: 'failed', reason: 'locked', durationMs: 0.5 }] });
      assert.equal(process.exitCode, 1);
    } finally {
      process.exitCode = exitCode;
    }
    await assert.rejects(runReconfigure({ api: off, session: '10.0.0.1:1-10.0.0.2:2', rightAnchor: '10.0.0.2' }, () => undefined), (e: Error) => e instanceof UserError && /reconfiguration is off/.test(e.message));
  });
});

describe('ctl reconfigure flags', () => {
  const parsed = (argv: string[]) => parsedArgs<ReconfigureArgs>(argv);

  test('flags become the request body', async () => {
    const args = await parsed(['ctl', 'reconfigure', '--session', '10.0.0.1:40000-10.0.0.2:5201', '--right-anchor', '10.0.0.2', '--via', '10.0.0.5,10.0.0.6', '--wait-ms', '2000']);
    assert.deepEqual(reconfigureBodyFromArgs(args), { session: SESSION, rightAnchor: '10.0.0.2', via: ['10.0.0.5', '10.0.0.6'], timeoutMs: 2000 });
    const many = await parsed(['ctl', 'reconfigure', '--filter', 'srcIp=10.0.0.1, dstPort=5201', '--right-anchor', '10.0.0.2', '--via', '10.0.0.5', '--via', '10.0.0.6']);
    assert.deepEqual(reconfigureBodyFromArgs(many), { filter: { srcIp: '10.0.0.1', dstPort: 5201 }, rightAnchor: '10.0.0.2', via: ['10.0.0.5', '10.0.0.6'] });
    assert.deepEqual(reconfigureBodyFromArgs(await parsed(['ctl', 'reconfigure', '--filter', 'dstIp=10.0.0.2', '--right-anchor', '10.0.0.2'])).via, []);
  });

  test('bad flags are one-line user errors', () => {
    const error = (args: ReconfigureArgs, message: RegExp) => assert.throws(() => reconfigureBodyFromArgs(args), (e: Error) => e instanceof UserError && message.test(e.message));
    error({ rightAnchor: '10.0.0.2' }, /exactly one of --session and --filter/);
    error({ session: '10.0.0.1:1-10.0.0.2:2', filter: 'srcPort=1', rightAnchor: '10.0.0.2' }, /exactly one/);
    error({ session: '10.0.0.1:1-10.0.0.2:2' }, /--right-anchor is required/);
    error({ session: '10.0.0.1:1-10.0.0.2:2', rightAnchor: 'b' }, /--right-anchor: "b" is not an IPv4 address/);
    error({ session: '10.0.0.1:1-10.0.0.2:2', rightAnchor: '10.0.0.2', via: '10.0.0.5,x' }, /--via: "x"/);
    error({ session: '10.0.0.1:1-10.0.0.2:2', rightAnchor: '10.0.0.2', waitMs: 0 }, /--wait-ms/);
    assert.throws(() => parseSessionArg('10.0.0.1:1-10.0.0.2'), /SRC_IP:PORT-DST_IP:PORT/);
    assert.throws(() => parseSessionArg('10.0.0.1:1-10.0.0.2:70000'), /not a port number/);
    assert.throws(() => parseFilterArg('dport=1'), /"dport=1" is not one of srcIp=…/);
    assert.throws(() => parseFilterArg('srcPort=1,srcPort=2'), /srcPort given twice/);
    assert.throws(() => parseFilterArg(' , '), /at least one/);
  });

  test('the table: one row per session, or a line when nothing matched', () => {
    assert.equal(formatReconfigureResults([]), 'no session matched');
    assert.equal(
      formatReconfigureResults([
        { session: SESSION, outcome: 'failed', reason: 'unknown_session', durationMs: 0 },
        { session: { ...SESSION, srcPort: 40001 }, sessionId: 12, outcome: 'unfinished', durationMs: 60000 },
      ]),
      [
        'SESSION                        ID  OUTCOME     REASON           TIME_MS',
        '10.0.0.1:40000->10.0.0.2:5201   -  failed      unknown_session      0.0',
        '10.0.0.1:40001->10.0.0.2:5201  12  unfinished  -                60000.0',
      ].join('\n'),
    );
  });
});
