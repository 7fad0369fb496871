// Agents from the container image (docker/Dockerfile): every host's agent runs under podman inside its agent
// namespace, in place of a Node process. A Dysco chain through an iptables firewall, every byte checked, and the
// firewall's sessions moved to a second instance with their conntrack state, as test/netns/migration.test.ts does
// with Node agents. The image is built first (`npm run image`: layers are cached, so an unchanged tree costs seconds);
// DYSCO_TEST_AGENT_IMAGE names a ready image in its place.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../src/api/client';
import { defaultApiSocket } from '../../src/api/socket-path';
import { createTestbed, type Testbed } from '../../src/testbed';
import { agentImageUnavailableReason, listDyscoContainers } from '../../src/testbed/containers';
import { withAgentDiagnosis } from '../../src/testbed/diagnosis';
import { metricSum } from '../../src/testbed/exposition';
import { conntrackEntries, installFirewall, ruleCounters } from '../../src/testbed/middleboxes';
import { runVerifiedStreams } from '../../src/testbed/verified-stream-run';
import { assertIntact } from '../support/intact';
import { hasCommand, netnsUnavailableReason } from '../support/netns';

const CONTROL_PORT = 7777;
const ROOT = join(__dirname, '..', '..', '..');
const skip = netnsUnavailableReason(['ip', 'ethtool', 'ss', 'iptables', 'conntrack']) ?? (hasCommand('podman') ? undefined : 'needs podman (scripts/bootstrap.sh installs it)');

/** The image under test: the one named in the environment, else the one `npm run image` builds from this tree. */
function agentImage(): string {
  const given = process.env.DYSCO_TEST_AGENT_IMAGE;
  if (given) return given;
  const build = spawnSync('bash', [join(ROOT, 'scripts', 'image.sh')], { cwd: ROOT, encoding: 'utf8', timeout: 1_200_000 });
  if (build.status !== 0) throw new Error(`npm run image failed (${build.status ?? build.signal}):\n${(build.stderr ?? '').split('\n').slice(-30).join('\n')}`);
  return build.stdout.trim().split('\n').pop()!;
}


describe('agents from the container image', { skip, timeout: 1_500_000 }, () => {
  let tb: Testbed | undefined;
  let image: string;
  const address = (host: string) => tb!.host(host).address;
  const diagnosed = (name: string, body: () => Promise<void>) => it(name, () => withAgentDiagnosis(tb!, body));

  before(async () => {
    image = agentImage();
    const unavailable = await agentImageUnavailableReason(image);
    assert.equal(unavailable, undefined);
    tb = await createTestbed('chain-2', {
      dysco: true,
      agentImage: image,
      middleboxState: 'conntrack',
      agentConfig: { dysco: { controlPort: CONTROL_PORT, timeouts: { lingerMs: 500 } } },
      policies: { client: [{ name: 'via-mb1', match: { dstPrefix: 'server', dstPorts: '7341-7349' }, chain: ['mb1'] }] },
    });
    await installFirewall(tb, 'mb1');
    await installFirewall(tb, 'mb2', { admitNew: false });
  });
  after(async () => {
    const runId = tb?.runId;
    await tb?.destroy();
    if (runId !== undefined) assert.deepEqual((await listDyscoContainers()).get(runId) ?? [], [], 'destroy removes the agent containers');
  });

  it('runs every agent as a container of the image, each in its host\'s agent namespace', async () => {
    const containers = (await listDyscoContainers()).get(tb!.runId) ?? [];
    assert.deepEqual(containers.sort(), ['client', 'mb1', 'mb2', 'server'].map((h) => `dysco-${tb!.runId}-${h}-agent`).sort());
    for (const host of ['client', 'mb1', 'mb2', 'server']) {
      const pid = tb!.agentPid(host)!;
      const inspect = spawnSync('podman', ['inspect', '--format', '{{.State.Pid}} {{.ImageName}}', `dysco-${tb!.runId}-${host}-agent`], { encoding: 'utf8' });
      const [containerPid, imageName] = inspect.stdout.trim().split(' ');
      assert.equal(imageName, image);
      // tini is the container's first process; the agent is its child, and its API answers on the host
      assert.equal(Number(spawnSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim()), Number(containerPid));
      const policies = await new ApiClient(defaultApiSocket(pid), { timeoutMs: 10_000 }).listPolicies();
      assert.ok(Array.isArray(policies.policies), JSON.stringify(policies));
    }
  });

  diagnosed('a chain through the iptables firewall on mb1 carries every byte both ways', async () => {
    const before = await ruleCounters(tb!, 'mb1');
    const result = await runVerifiedStreams(tb!, 'client', 'server', { port: 7341, seed: 10, sessions: 3, durationMs: 3000, rateMbitPerSecond: 20 });
    assertIntact(result, 100_000);
    const afterCounters = await ruleCounters(tb!, 'mb1');
    const accepted = (c: typeof before) => c.rules.filter((r) => /ESTABLISHED/.test(r.text)).reduce((n, r) => n + r.packets, 0);
    assert.ok(accepted(afterCounters) - accepted(before) > 1000, 'the sessions crossed mb1\'s firewall');
    const clientMetrics = await tb!.scrapeMetrics('client');
    assert.ok(metricSum(clientMetrics, 'dysco_session_setups_total{kind="established"}') >= 3, 'the client\'s agent set the sessions up');
  });

  diagnosed('the firewall\'s sessions move from mb1 to mb2 with their conntrack state, every byte both ways', async () => {
    const mb1 = new ApiClient(defaultApiSocket(tb!.agentPid('mb1')!), { timeoutMs: 30_000 });
    let summary: Awaited<ReturnType<ApiClient['migrate']>> | undefined;
    let onMb2: Awaited<ReturnType<typeof conntrackEntries>> = [];
    const result = await runVerifiedStreams(tb!, 'client', 'server', {
      port: 7342,
      seed: 20,
      sessions: 4,
      durationMs: 4000,
      rateMbitPerSecond: 20,
      whileRunning: async () => {
        for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 100))) {
          const sessions = await mb1.allSessions({ port: 7342 });
          if (sessions.filter((s) => s.state === 'established' && s.left?.session.dstPort === 7342).length >= 4) break;
          assert.ok(Date.now() < deadline, 'mb1 carries the four sessions');
        }
        summary = await mb1.migrate({ from: address('mb1'), to: address('mb2'), filter: { dstPort: 7342 }, timeoutMs: 30_000 }, () => undefined);
        onMb2 = (await conntrackEntries(tb!, 'mb2')).filter((e) => e.dport === 7342);
      },
    });
    assertIntact(result, 100_000);
    assert.deepEqual([summary!.sessions, summary!.completed], [4, 4], JSON.stringify(summary));
    assert.equal(onMb2.length, 4, onMb2.map((e) => e.line).join('\n'));
    for (const entry of onMb2) assert.equal(entry.state, 'ESTABLISHED', entry.line);
    assert.equal(metricSum(await tb!.scrapeMetrics('mb2'), 'dysco_state_transfer_sessions_total{side="import",outcome="ok"}'), 4);
  });
});
