// POST /v1/reconfigure and `dysco ctl reconfigure`: validation at both edges, the request and response shapes, and
// the table. The agent side is a recording Reconfigurer (the composition has its own tests).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiClient, ApiError } from '../../src/api/client';
import { HttpError, parseMigrateBody, parseReconfigureBody, startApiServer, type ApiServer } from '../../src/api/server';
import type { MigrateCommand, MigrateEvents, MigrateLine, MigrationSessionResult, ReconfigureCommand, ReconfigureSessionResult, Reconfigurer } from '../../src/api/types';
import { formatReconfigureResults } from '../../src/cli/ctl/format';
import { runMigrate, runReconfigure } from '../../src/cli/ctl/handler';
import { migrateBodyFromArgs, parseFilterArg, parseSessionArg, reconfigureBodyFromArgs, type MigrateArgs, type ReconfigureArgs } from '../../src/cli/ctl/options';
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
      transferState: false,
      timeoutMs: 60_000,
    });
    assert.deepEqual(parseReconfigureBody({ filter: { dstPort: 5201 }, rightAnchor: '10.0.0.2', via: [], timeoutMs: 500 }), {
      filter: { dstPort: 5201 },
      rightAnchor: ip('10.0.0.2'),
      via: [],
      transferState: false,
      timeoutMs: 500,
    });
    assert.equal(parseReconfigureBody({ session: SESSION, rightAnchor: '10.0.0.2', via: ['10.0.0.5'], transferState: true }).transferState, true);
    assert.deepEqual(problemsOf({ session: SESSION, rightAnchor: '10.0.0.2', via: [], transferState: true }), ['transferState: needs exactly one middlebox in via, the one that takes the state over']);
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
  readonly self = '10.0.1.1';
  readonly commands: ReconfigureCommand[] = [];
  readonly migrations: MigrateCommand[] = [];
  async migrate(command: MigrateCommand, events: MigrateEvents): Promise<MigrationSessionResult[]> {
    this.migrations.push(command);
    const session = (port: number) => ({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: port, dstPort: 80 });
    const results: MigrationSessionResult[] = [
      { session: session(40001), outcome: 'completed', durationMs: 4, switchedMs: 1, roundTripMs: 5 },
      { session: session(40002), outcome: 'completed', durationMs: 6, switchedMs: 2, roundTripMs: 7 },
      { session: session(40003), outcome: 'failed', reason: 'state_exists', durationMs: 2, roundTripMs: 3 },
    ];
    events.start(results.length);
    for (const r of results) events.result(r);
    return results;
  }
  async reconfigure(command: ReconfigureCommand): Promise<ReconfigureSessionResult[]> {
    this.commands.push(command);
    const s = command.session!;
    const session = { srcIp: formatIpv4(s.srcIp), dstIp: formatIpv4(s.dstIp), srcPort: s.srcPort, dstPort: s.dstPort };
    return command.via.length > 0
      ? [{ session, sessionId: 4, nonce: 9, outcome: 'completed', durationMs: 1.25 }]
      : [{ session, sessionId: 4, nonce: 10, outcome: 'failed', reason: 'locked', durationMs: 0.5 }];
  }
}

/** Two API servers for one suite: one with a RecordingReconfigurer (`api`), one without reconfiguration (`off`). */
function apiServers(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `dysco-${name}-`));
  const api = join(dir, 'agent.sock');
  const off = join(dir, 'off.sock');
  const reconfigurer = new RecordingReconfigurer();
  let servers: ApiServer[] = [];
  const sessions = { sessions: async () => ({ sessions: [], nextCursor: null }) };
  const store = () => new PolicyStore({ sink: { installPolicies: async () => undefined } });
  before(async () => {
    servers = [await startApiServer({ store: store(), sessions, reconfigurer, socketPath: api }), await startApiServer({ store: store(), sessions, socketPath: off })];
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  return { api, off, reconfigurer };
}

describe('POST /v1/reconfigure and dysco ctl reconfigure', () => {
  const { api, off, reconfigurer } = apiServers('reconfigure');

  test('the client posts the body and gets the results', async () => {
    const { results } = await new ApiClient(api).reconfigure({ session: SESSION, rightAnchor: '10.0.0.2', via: ['10.0.0.5'], timeoutMs: 1000 });
    assert.deepEqual(results, [{ session: SESSION, sessionId: 4, nonce: 9, outcome: 'completed', durationMs: 1.25 }]);
    assert.deepEqual(reconfigurer.commands.at(-1), { session: { srcIp: ip('10.0.0.1'), dstIp: ip('10.0.0.2'), srcPort: 40000, dstPort: 5201 }, rightAnchor: ip('10.0.0.2'), via: [ip('10.0.0.5')], transferState: false, timeoutMs: 1000 });
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

describe('POST /v1/migrate and dysco ctl migrate', () => {
  const { api, off, reconfigurer } = apiServers('migrate');

  test('the answer streams a start line, a line per session and the summary', async () => {
    const lines: MigrateLine[] = [];
    const summary = await new ApiClient(api).migrate({ from: '10.0.1.1', to: '10.0.1.2', filter: { dstPort: 80 } }, (l) => lines.push(l));
    assert.deepEqual(reconfigurer.migrations.at(-1), { from: ip('10.0.1.1'), to: ip('10.0.1.2'), filter: { dstPort: 80 }, transferState: true, timeoutMs: 60_000 });
    assert.deepEqual(lines[0], { start: { from: '10.0.1.1', to: '10.0.1.2', sessions: 3 } });
    assert.equal(lines.filter((l) => 'result' in l).length, 3);
    assert.deepEqual(lines.at(-1), { summary });
    assert.deepEqual({ ...summary, totalMs: 0 }, { sessions: 3, completed: 2, failed: 1, unfinished: 0, totalMs: 0, p50Ms: 4, p99Ms: 6, maxMs: 6, switchP50Ms: 1, switchP99Ms: 2, reasons: { state_exists: 1 } });
  });

  test('a bad body is a 400 naming the fields; from must be this agent; without reconfiguration 503', async () => {
    const problems = async (body: unknown) => {
      try {
        parseMigrateBody(body);
        return [];
      } catch (error) {
        return (error as HttpError).details;
      }
    };
    assert.deepEqual(await problems({}), ['to: required (the middlebox that takes the sessions over)']);
    assert.deepEqual(await problems({ to: '10.0.1.2', from: '10.0.1.2', transferState: 'yes', bogus: 1, filter: {} }), [
      'bogus: unknown field',
      'to: must not be the middlebox the sessions leave',
      'filter: name at least one of srcIp, dstIp, srcPort, dstPort',
      'transferState: must be true or false',
    ]);
    assert.deepEqual(await problems({ to: '10.0.1.2', concurrency: 0 }), ['concurrency: must be an integer from 1 to 100000']);
    assert.equal(parseMigrateBody({ to: '10.0.1.2', concurrency: 16 }).concurrency, 16);
    await assert.rejects(new ApiClient(api).migrate({ from: '10.0.1.9', to: '10.0.1.2' }, () => undefined), (e: Error) => e instanceof ApiError && e.status === 400 && /this agent is 10\.0\.1\.1/.test(e.message));
    await assert.rejects(new ApiClient(off).migrate({ to: '10.0.1.2' }, () => undefined), (e: Error) => e instanceof ApiError && e.status === 503);
  });

  test('ctl prints every session and the summary; a session that did not move sets exit code 1; progress on request', async () => {
    const out: string[] = [];
    const progress: string[] = [];
    const exitCode = process.exitCode;
    try {
      await runMigrate({ api, from: '10.0.1.1', to: '10.0.1.2', stateTransfer: false }, (t) => out.push(t), (line) => progress.push(line));
      assert.equal(reconfigurer.migrations.at(-1)?.transferState, false);
      assert.equal(process.exitCode, 1);
      const text = out.join('\n');
      assert.match(text, /10\.0\.0\.1:40003->10\.0\.0\.2:80\s+failed\s+state_exists\s+-\s+2\.0\s+3\.0/);
      assert.match(text, /2 of 3 sessions moved in [0-9.]+ s \(1 failed, 0 unfinished\)/);
      assert.match(text, /until switched: p50 1\.0 ms, p99 2\.0 ms; until the old path ended: p50 4\.0 ms, p99 6\.0 ms, max 6\.0 ms/);
      assert.match(text, /not moved, by reason: state_exists 1/);
      assert.match(progress.at(-1)!, /^moving 3\/3 · 2 moved · 1 not/);
      out.length = 0;
      await runMigrate({ api, to: '10.0.1.2', json: true }, (t) => out.push(t), undefined);
      assert.deepEqual(out.map((l) => Object.keys(JSON.parse(l))[0]), ['start', 'result', 'result', 'result', 'summary']);
    } finally {
      process.exitCode = exitCode;
    }
  });

  test('flags: --to required, --from an address and not --to, --no-state-transfer', async () => {
    const args = await parsedArgs<MigrateArgs>(['ctl', 'migrate', '--from', '10.0.1.1', '--to', '10.0.1.2', '--filter', 'srcIp=10.0.0.1', '--no-state-transfer', '--wait-ms', '5000', '--concurrency', '8']);
    assert.deepEqual(migrateBodyFromArgs(args), { to: '10.0.1.2', from: '10.0.1.1', transferState: false, filter: { srcIp: '10.0.0.1' }, timeoutMs: 5000, concurrency: 8 });
    assert.equal(migrateBodyFromArgs(await parsedArgs<MigrateArgs>(['ctl', 'migrate', '--to', '10.0.1.2'])).transferState, true);
    const error = (a: MigrateArgs, message: RegExp) => assert.throws(() => migrateBodyFromArgs(a), (e: Error) => e instanceof UserError && message.test(e.message));
    error({}, /--to is required/);
    error({ to: '10.0.1.2', from: '10.0.1.2' }, /must not be the middlebox the sessions leave/);
    error({ to: 'x' }, /--to: "x"/);
    error({ to: '10.0.1.2', concurrency: 1.5 }, /--concurrency: must be an integer/);
    error({ to: '10.0.1.2', waitMs: 0 }, /--wait-ms/);
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
