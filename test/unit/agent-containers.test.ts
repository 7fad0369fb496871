import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pidOfLogLine } from '../../src/testbed/agents';
import { agentContainerName, containerAgentArgv, inheritedUlimits } from '../../src/testbed/containers';
import { runIdOfNamespace } from '../../src/testbed/names';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max processes             95538                95538                processes
Max open files            1048576              1048576              files
`;

describe('agent containers', () => {
  test('a container is named after its run and host, and sweeps find its run like a namespace\'s', () => {
    const name = agentContainerName('ab12', 'mb1');
    assert.equal(name, 'dysco-ab12-mb1-agent');
    assert.equal(runIdOfNamespace(name), 'ab12');
  });

  test('the ulimits come from this process, the process limit capped at conmon\'s', () => {
    assert.deepEqual(inheritedUlimits(LIMITS), ['nofile=1048576:1048576', 'nproc=32768:32768']);
    assert.deepEqual(inheritedUlimits(LIMITS.replace('1048576              1048576', '1024                 unlimited')), ['nofile=1024:-1', 'nproc=32768:32768']);
    assert.deepEqual(inheritedUlimits(LIMITS.replace('95538                95538', '512                  4096')), ['nofile=1048576:1048576', 'nproc=512:4096']);
    assert.deepEqual(inheritedUlimits(''), []);
  });

  test('the podman command joins the agent namespace, shares the host pids and the given directories, runs the image\'s dysco', () => {
    const argv = containerAgentArgv({
      name: 'dysco-ab12-mb1-agent',
      image: 'localhost/dysco:0.1.0',
      agentNs: 'dysco-ab12-mb1-a',
      sharedDirs: ['/run/dysco-testbed/ab12', '/run/dysco', '/run/dysco'],
      args: ['agent', '--config', '/run/dysco-testbed/ab12/mb1.yaml'],
    });
    const imageAt = argv.indexOf('localhost/dysco:0.1.0');
    assert.deepEqual(argv.slice(0, 6), ['podman', '--runtime', 'runc', 'run', '--rm', '--name']);
    assert.deepEqual(argv.slice(imageAt + 1), ['agent', '--config', '/run/dysco-testbed/ab12/mb1.yaml']);
    const options = argv.slice(0, imageAt);
    const valuesOf = (flag: string) => options.flatMap((a, i) => (a === flag ? [options[i + 1]] : []));
    assert.deepEqual(valuesOf('--network'), ['ns:/run/netns/dysco-ab12-mb1-a']);
    assert.deepEqual(valuesOf('--pid'), ['host']);
    assert.deepEqual(valuesOf('--volume'), ['/run/dysco-testbed/ab12:/run/dysco-testbed/ab12', '/run/dysco:/run/dysco', '/run/netns:/run/netns']);
    assert.ok(options.includes('--privileged'));
    assert.equal(valuesOf('--ulimit').length, inheritedUlimits().length);
  });

  test('the agent\'s pid is the one its JSON ready line names', () => {
    assert.equal(pidOfLogLine('{"level":30,"pid":4242,"msg":"agent ready"}'), 4242);
    for (const line of ['{"msg":"agent ready"}', '{"pid":"4242"}', '{"pid":-1}', '{"pid":1.5}', 'agent ready pid=4242', '']) assert.equal(pidOfLogLine(line), undefined, line);
  });
});
