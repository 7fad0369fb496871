import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiError, resolveApiEndpoint } from '../../src/api/client';
import { startApiServer, type ApiServer } from '../../src/api/server';
import type { SessionRecord } from '../../src/api/types';
import { formatPolicies, formatSessions } from '../../src/cli/ctl/format';
import { runPolicyAdd, runPolicyList, runPolicyRm, runSessions } from '../../src/cli/ctl/handler';
import { policyFromArgs, sessionQueryFromArgs, type PolicyAddArgs, type SessionsArgs } from '../../src/cli/ctl/options';
import { buildCli } from '../../src/cli/main';
import { UserError } from '../../src/cli/shared/user-error';
import { PolicyStore } from '../../src/policy/store';
import { parsedArgs } from '../support/cli-args';

const parsed = parsedArgs;

const s1: SessionRecord = {
  id: 7,
  state: 'established',
  role: 'middlebox',
  left: {
    session: { srcIp: '10.0.0.1', dstIp: '10.0.1.1', srcPort: 40000, dstPort: 80 },
    subsession: { srcIp: '10.0.0.1', dstIp: '10.0.2.1', srcPort: 50000, dstPort: 60000 },
  },
  right: {
    session: { srcIp: '10.0.2.1', dstIp: '10.0.1.1', srcPort: 61000, dstPort: 80 },
    subsession: { srcIp: '10.0.2.1', dstIp: '10.0.1.1', srcPort: 50001, dstPort: 60001 },
  },
  chain: ['10.0.2.1', '10.0.1.1'],
  packets: 12,
  bytes: 3456,
  idleSeconds: 0,
};
const s2: SessionRecord = {
  id: 123,
  state: 'syn-sent',
  role: 'initiator',
  right: { session: { srcIp: '10.0.0.1', dstIp: '10.0.1.1', srcPort: 40001, dstPort: 443 } },
  chain: [],
  packets: 1,
  bytes: 60,
  idleSeconds: 3,
};

describe('dysco ctl parsing', () => {
  test('sessions flags become a query', async () => {
    const args = await parsed<SessionsArgs>(['ctl', 'sessions', '--api', '/tmp/a.sock', '--limit', '5', '--cursor', '10', '--state', 'established', '--address', '10.0.0.1', '--port', '80', '--json']);
    assert.equal(args.api, '/tmp/a.sock');
    assert.equal(args.json, true);
    assert.deepEqual(sessionQueryFromArgs(args), { limit: 5, cursor: 10, state: 'established', address: '10.0.0.1', port: 80 });
    assert.deepEqual(sessionQueryFromArgs(await parsed<SessionsArgs>(['ctl', 'sessions', '--all'])), {});
  });

  test('policy add flags become a policy', async () => {
    const args = await parsed<PolicyAddArgs>([
      'ctl', 'policy', 'add', '--name', 'web', '--src', '10.0.0.0/24', '--dst', '10.0.1.0/24', '--src-ports', '1024-65535', '--dst-ports', '443', '--chain', '10.0.2.1, 10.0.2.2',
    ]);
    assert.deepEqual(policyFromArgs(args), {
      name: 'web',
      match: { srcPrefix: '10.0.0.0/24', dstPrefix: '10.0.1.0/24', srcPorts: '1024-65535', dstPorts: 443 },
      chain: ['10.0.2.1', '10.0.2.2'],
    });
    assert.deepEqual(policyFromArgs(await parsed<PolicyAddArgs>(['ctl', 'policy', 'add', '--name', 'direct'])), { name: 'direct', match: {}, chain: [] });
  });

  test('policy rm takes a name; missing subcommands and flags are errors', async () => {
    assert.equal((await parsed<{ name: string }>(['ctl', 'policy', 'rm', 'web'])).name, 'web');
    const failure = (argv: string[]) => assert.rejects(async () => buildCli(argv).fail(false).exitProcess(false).parseAsync());
    await failure(['ctl']);
    await failure(['ctl', 'policy']);
    await failure(['ctl', 'policy', 'add']);
    await failure(['ctl', 'sessions', '--bogus']);
  });
});

describe('tables', () => {
  test('sessions: tuples, subsessions, chain, state, counters', () => {
    assert.equal(
      formatSessions([s1, s2]),
      [
        ' ID  STATE        ROLE       SESSION                                                    SUBSESSIONS                                                          CHAIN              PACKETS  BYTES  IDLE_S',
        '  7  established  middlebox  10.0.0.1:40000->10.0.1.1:80 | 10.0.2.1:61000->10.0.1.1:80  L 10.0.0.1:50000->10.0.2.1:60000 | R 10.0.2.1:50001->10.0.1.1:60001  10.0.2.1,10.0.1.1       12   3456       0',
        '123  syn-sent     initiator  10.0.0.1:40001->10.0.1.1:443                               -                                                                    -                        1     60       3',
      ].join('\n'),
    );
    assert.equal(formatSessions([]), 'ID  STATE  ROLE  SESSION  SUBSESSIONS  CHAIN  PACKETS  BYTES  IDLE_S');
  });

  test('policies', () => {
    assert.equal(
      formatPolicies([
        { name: 'web', source: 'api', match: { dstPrefix: '10.0.1.0/24', dstPorts: '80-443' }, chain: ['10.0.2.1'] },
        { name: 'all', source: 'service', match: {}, chain: [] },
      ]),
      [
        '#  NAME  SOURCE   SRC  DST          SRC_PORTS  DST_PORTS  CHAIN',
        '0  web   api      *    10.0.1.0/24  *          80-443     10.0.2.1',
        '1  all   service  *    *            *          *          (direct)',
      ].join('\n'),
    );
  });
});

describe('dysco ctl against a running control API', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dysco-ctl-'));
  const api = join(dir, 'agent.sock');
  let server: ApiServer;
  const installs: Buffer[] = [];
  before(async () => {
    const store = new PolicyStore({ sink: { installPolicies: async (b) => void installs.push(b) } });
    const records = [s1, s2];
    server = await startApiServer({
      store,
      socketPath: api,
      sessions: {
        sessions: async (cursor, limit) => ({
          sessions: records.slice(cursor, cursor + limit),
          nextCursor: cursor + limit < records.length ? cursor + limit : null,
        }),
      },
    });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('sessions as a table with a hint for the next page, or all as JSON', async () => {
    const out: string[] = [];
    await runSessions({ api, limit: 1 }, (t) => out.push(t));
    assert.equal(out.length, 2);
    assert.match(out[0]!, /^ID {2}STATE/);
    assert.match(out[0]!, /10\.0\.0\.1:40000->10\.0\.1\.1:80/);
    assert.equal(out[1], '(more: --cursor 1, or --all)');
    const json: string[] = [];
    await runSessions({ api, all: true, limit: 1, json: true }, (t) => json.push(t));
    assert.deepEqual(JSON.parse(json[0]!), { sessions: [s1, s2], nextCursor: null });
  });

  test('policy add / list / rm, and API errors as one line', async () => {
    const out: string[] = [];
    await runPolicyAdd({ api, name: 'web', dst: '10.0.1.0/24', chain: '10.0.2.1' }, (t) => out.push(t));
    assert.deepEqual(out, ['policy web added']);
    assert.equal(installs.length, 1);
    await runPolicyList({ api }, (t) => out.push(t));
    assert.match(out[1]!, /^0 {2}web {3}api/m);
    await assert.rejects(
      runPolicyAdd({ api, name: 'bad', dst: '10.0.1.1/24' }, () => undefined),
      (e: Error) => e instanceof UserError && e.message === 'invalid policy: match.dstPrefix: "10.0.1.1/24" has host bits set (did you mean "10.0.1.0/24"?)',
    );
    await runPolicyRm({ api, name: 'web' }, (t) => out.push(t));
    assert.equal(out[2], 'policy web removed');
    await assert.rejects(runPolicyRm({ api, name: 'web' }, () => undefined), (e: Error) => e instanceof UserError && e.message === 'no policy named "web"');
    await assert.rejects(
      runSessions({ api: join(dir, 'absent.sock') }, () => undefined),
      (e: Error) => e instanceof UserError && /absent\.sock: agent not reachable/.test(e.message) && !e.message.includes('\n'),
    );
  });
});

describe('dysco ctl without --api', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dysco-ctl-default-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('with no socket in the directory, says that no agent is listening there', () => {
    assert.throws(() => resolveApiEndpoint(undefined, dir), (e: Error) => e instanceof ApiError && e.message.includes(`no agent is listening in ${dir}`));
  });

  test("names the socket of a dead agent and says that no agent is listening on it", () => {
    writeFileSync(join(dir, 'agent-4242.sock'), '');
    assert.throws(
      () => resolveApiEndpoint(undefined, dir, () => false),
      (e: Error) => e instanceof ApiError && e.message.startsWith(`no agent is listening on ${join(dir, 'agent-4242.sock')}`),
    );
  });

  test('passes over sockets of dead agents to the one live one, and refuses to guess between live ones', () => {
    writeFileSync(join(dir, 'agent-4243.sock'), '');
    assert.equal(resolveApiEndpoint(undefined, dir, (pid) => pid === 4243), join(dir, 'agent-4243.sock'));
    assert.throws(() => resolveApiEndpoint(undefined, dir, () => true), /several agents/);
    assert.equal(resolveApiEndpoint('/elsewhere.sock', dir, () => false), '/elsewhere.sock');
  });

  test('a socket that nobody answers on is named in the error with "no agent is listening there"', async () => {
    const path = join(dir, 'agent-4244.sock');
    writeFileSync(path, '');
    await assert.rejects(
      runSessions({ api: path }, () => undefined),
      (e: Error) => e instanceof UserError && e.message.startsWith(`${path}: agent not reachable: no agent is listening there`),
    );
  });
});
