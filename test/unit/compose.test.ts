// docker/compose.yaml, which no test can run (these machines have no Docker engine): its fields against a strict
// list of the Compose fields it uses, its agents' configs under the agent's schema, and that its networks, addresses,
// interfaces and chains are the testbed's chain-2 and agree with each other.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { agentConfigSchema, readConfigFile } from '../../src/agent/config';
import { inPrefix, parseIpv4, parsePrefix, type Ipv4Prefix } from '../../src/net/ipv4';
import { addressPlan, builtinTopology } from '../../src/testbed/topology';
import { REPO_ROOT, VERSION } from '../../src/version';

const DOCKER_DIR = join(REPO_ROOT, 'docker');
const COMPOSE_FILE = join(DOCKER_DIR, 'compose.yaml');
const AGENT_IMAGE = `localhost/dysco:${VERSION}`;

// The Compose fields this file uses, and no others: a misspelt one fails here instead of on a user's Docker host.
const duration = z.string().regex(/^\d+s$/, 'must be whole seconds, e.g. "10s"');
const argv = z.array(z.string().min(1)).min(1);
const serviceSchema = z
  .object({
    image: z.string().min(1),
    build: z.object({ context: z.string(), dockerfile_inline: z.string() }).strict().optional(),
    privileged: z.boolean().optional(),
    cap_add: z.array(z.string()).optional(),
    entrypoint: argv.optional(),
    command: argv.optional(),
    environment: z.record(z.string()).optional(),
    sysctls: z.record(z.union([z.number(), z.string()])).optional(),
    volumes: z.array(z.string()).optional(),
    networks: z.record(z.object({ ipv4_address: z.string(), interface_name: z.string().max(15).optional() }).strict()),
    depends_on: z.record(z.object({ condition: z.enum(['service_started', 'service_healthy']) }).strict()).optional(),
    healthcheck: z.object({ test: argv, interval: duration, timeout: duration, retries: z.number().int(), start_period: duration }).strict().optional(),
    stop_grace_period: duration.optional(),
  })
  .strict();
const networkSchema = z
  .object({
    driver: z.literal('bridge'),
    driver_opts: z.record(z.string()).optional(),
    ipam: z.object({ config: z.tuple([z.object({ subnet: z.string(), gateway: z.string() }).strict()]) }).strict(),
  })
  .strict();
const composeSchema = z.object({ name: z.string(), services: z.record(serviceSchema), networks: z.record(networkSchema) }).strict();
type Compose = z.infer<typeof composeSchema>;
type Service = z.infer<typeof serviceSchema>;

/** The YAML as Compose reads it: merge keys (`<<`) applied. */
function readCompose(): Record<string, unknown> {
  const doc = parseDocument(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true });
  assert.deepEqual(doc.errors.map(String), []);
  return doc.toJS() as Record<string, unknown>;
}

/**
 * Compose's interpolation of every string: `${VAR:-default}` and `${VAR}` from `env`, `$$` for a `$`. Any other `$`
 * is an error, as a shell variable written `$X` where `$$X` was meant would be replaced by Compose before the shell
 * saw it.
 */
function interpolate(value: unknown, env: Record<string, string>, path = ''): unknown {
  if (typeof value === 'string') {
    const stray = value.replace(/\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}/g, '').indexOf('$');
    assert.equal(stray, -1, `${path}: a "$" that Compose would interpolate; write "$$" for the shell's`);
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (all, name?: string, fallback?: string) =>
      all === '$$' ? '$' : (env[name!] ?? fallback ?? ''),
    );
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${path}[${i}]`));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, path ? `${path}.${k}` : k)]));
  return value;
}

/** Parses the file as Compose would with no environment set, extension fields (`x-…`) dropped. */
function parseCompose(raw: Record<string, unknown>): Compose {
  const fields = Object.fromEntries(Object.entries(raw).filter(([key]) => !key.startsWith('x-')));
  const result = composeSchema.safeParse(interpolate(fields, {}));
  if (!result.success) throw new Error(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
  return result.data;
}

function prefix(text: string): Ipv4Prefix {
  const p = parsePrefix(text);
  assert.ok(p, `${text} is a prefix`);
  return p;
}

function overlaps(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  return inPrefix(a, b.net) || inPrefix(b, a.net);
}

const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map(prefix);

/** The image's CMD in docker/Dockerfile (its exec form). */
function dockerfileCmd(): string[] {
  const line = readFileSync(join(DOCKER_DIR, 'Dockerfile'), 'utf8').split('\n').filter((l) => l.startsWith('CMD ')).pop();
  assert.ok(line, 'docker/Dockerfile has a CMD');
  return JSON.parse(line.slice(4)) as string[];
}

function ifaceOf(device: string): string | undefined {
  return /(?:^|,)iface=([^,]+)/.exec(device)?.[1];
}

const seconds = (d: string) => Number(d.slice(0, -1));

describe('docker/compose.yaml', () => {
  let raw: Record<string, unknown>;
  let compose: Compose;
  before(() => {
    raw = readCompose();
    compose = parseCompose(raw);
  });
  const topology = builtinTopology('chain-2')!;
  const plan = addressPlan(topology);
  const hosts = topology.hosts.map((h) => h.name);
  const service = (name: string): Service => {
    const s = compose.services[name];
    assert.ok(s, `service ${name}`);
    return s;
  };
  const addressOn = (name: string, network: string): string => {
    const address = service(name).networks[network]?.ipv4_address;
    assert.ok(address, `${name} has an address on ${network}`);
    return address;
  };
  const subnetOf = (network: string) => prefix(compose.networks[network]!.ipam.config[0].subnet);
  const agentConfig = (host: string): z.output<typeof agentConfigSchema> => {
    const volume = service(`${host}-agent`).volumes![0]!;
    return agentConfigSchema.parse(readConfigFile(join(DOCKER_DIR, volume.split(':')[0]!)));
  };

  describe('as Compose reads it', () => {
    test('has chain-2\'s hosts, each a stack and an agent, and a router; interpolates only $DYSCO_IMAGE', () => {
      assert.deepEqual(Object.keys(compose.services).sort(), [...hosts, ...hosts.map((h) => `${h}-agent`), 'router'].sort());
      const variables = [...readFileSync(COMPOSE_FILE, 'utf8').matchAll(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].flatMap((m) => m[1] ?? []);
      assert.deepEqual([...new Set(variables)], ['DYSCO_IMAGE']);
    });

    test('a misspelt field fails, at the top of a service or inside one of its networks', () => {
      const typo = (edit: (services: any) => void) => {
        const copy = structuredClone(raw) as any;
        edit(copy.services);
        return () => parseCompose(copy);
      };
      assert.throws(
        typo((s) => {
          s['mb1-agent'].privilegd = s['mb1-agent'].privileged;
          delete s['mb1-agent'].privileged;
        }),
        /services\.mb1-agent: Unrecognized key\(s\) in object: 'privilegd'/,
      );
      assert.throws(
        typo((s) => {
          const link = s.client.networks['client-link'];
          link.ipv4_adress = link.ipv4_address;
          delete link.ipv4_address;
        }),
        /services\.client\.networks\.client-link: Unrecognized key\(s\) in object: 'ipv4_adress'/,
      );
      assert.throws(
        typo((s) => (s.client.command[2] = s.client.command[2].replace('"$$stream"', '"$stream"'))),
        /services\.client\.command\[2\]: a "\$" that Compose would interpolate/,
      );
    });

    test('every network a service names is defined, and every defined one is used', () => {
      const used = new Set(Object.values(compose.services).flatMap((s) => Object.keys(s.networks)));
      assert.deepEqual([...used].filter((n) => !(n in compose.networks)), []);
      assert.deepEqual(Object.keys(compose.networks).filter((n) => !used.has(n)), []);
    });

    test('every service a service waits for exists, and waits for health only where there is a healthcheck', () => {
      for (const [name, s] of Object.entries(compose.services))
        for (const [other, { condition }] of Object.entries(s.depends_on ?? {})) {
          assert.ok(compose.services[other], `${name} waits for ${other}`);
          if (condition === 'service_healthy') assert.ok(compose.services[other]!.healthcheck, `${other} has a healthcheck`);
        }
    });
  });

  describe('the networks', () => {
    test('have private subnets that do not overlap, each with its gateway inside', () => {
      const subnets = Object.keys(compose.networks).map((n) => ({ n, p: subnetOf(n) }));
      for (const { n, p } of subnets) {
        assert.ok(PRIVATE.some((range) => inPrefix(range, p.net) && range.length <= p.length), `${n}: a private range`);
        assert.ok(inPrefix(p, parseIpv4(compose.networks[n]!.ipam.config[0].gateway)!), `${n}: its gateway`);
      }
      for (const [i, a] of subnets.entries())
        for (const b of subnets.slice(i + 1)) assert.ok(!overlaps(a.p, b.p), `${a.n} and ${b.n} overlap`);
    });

    test('every service address lies in its network\'s subnet, is a host address, and is nobody else\'s', () => {
      const taken = new Map<string, string>();
      for (const [name, s] of Object.entries(compose.services))
        for (const [network, { ipv4_address }] of Object.entries(s.networks)) {
          const subnet = subnetOf(network);
          const address = parseIpv4(ipv4_address);
          assert.ok(address !== undefined && inPrefix(subnet, address), `${name}: ${ipv4_address} in ${network}`);
          const broadcast = (subnet.net | ~subnet.mask) >>> 0;
          assert.ok(address !== subnet.net && address !== broadcast, `${name}: ${ipv4_address} is a host address`);
          assert.notEqual(ipv4_address, compose.networks[network]!.ipam.config[0].gateway, `${name}: not ${network}'s gateway`);
          assert.equal(taken.get(ipv4_address), undefined, `${ipv4_address} is given twice`);
          taken.set(ipv4_address, name);
        }
    });

    test('split each host\'s testbed /24 into the stack\'s half (link) and the router\'s (wire)', () => {
      for (const h of plan) {
        const slash24 = prefix(h.subnet);
        const [link, wire] = [subnetOf(`${h.host}-link`), subnetOf(`${h.host}-wire`)];
        assert.deepEqual([link.length, wire.length], [25, 25], h.host);
        assert.ok(inPrefix(slash24, link.net) && inPrefix(slash24, wire.net) && link.net !== wire.net, h.host);
        assert.ok(inPrefix(link, parseIpv4(addressOn(h.host, `${h.host}-link`))!), `${h.host}'s stack is on the link half`);
      }
    });
  });

  describe('the agents', () => {
    test('run the image privileged, on its own command, with their config file mounted where that command reads it', () => {
      const configPath = dockerfileCmd()[dockerfileCmd().indexOf('--config') + 1];
      for (const host of hosts) {
        const agent = service(`${host}-agent`);
        assert.equal(agent.image, AGENT_IMAGE, host);
        assert.equal(agent.privileged, true, host);
        assert.equal(agent.command ?? agent.entrypoint, undefined, `${host}: the image's entrypoint and CMD`);
        assert.deepEqual(agent.volumes, [`./compose/${host}.yaml:${configPath}:ro`], host);
        assert.ok(existsSync(join(DOCKER_DIR, 'compose', `${host}.yaml`)), `docker/compose/${host}.yaml exists`);
      }
      const others = Object.entries(compose.services).filter(([name]) => !name.endsWith('-agent'));
      for (const [name, s] of others) assert.notEqual(s.privileged, true, `${name} needs no more than its capabilities`);
    });

    test('each config parses under the agent\'s schema, a typo in it does not', () => {
      for (const host of hosts) assert.ok(agentConfig(host).dysco, `${host}: Dysco mode`);
      const text = readFileSync(join(DOCKER_DIR, 'compose', 'mb1.yaml'), 'utf8');
      const typo = parseDocument(text.replace('controlPort:', 'controlPrt:')).toJS();
      assert.match(agentConfigSchema.safeParse(typo).error?.issues[0]?.message ?? '', /Unrecognized key\(s\) in object: 'controlPrt'/);
    });

    test('bridge the two interfaces Compose names, at the testbed\'s addresses, through the router', () => {
      for (const h of plan) {
        const config = agentConfig(h.host);
        const agent = service(`${h.host}-agent`);
        assert.equal(ifaceOf(config.host.device), agent.networks[`${h.host}-link`]?.interface_name, `${h.host}: host port`);
        assert.equal(ifaceOf(config.wire.device), agent.networks[`${h.host}-wire`]?.interface_name, `${h.host}: wire port`);
        assert.equal(config.dysco!.address, `${addressOn(h.host, `${h.host}-link`)}/24`, `${h.host}: the stack's address`);
        assert.equal(addressOn(h.host, `${h.host}-link`), h.address, `${h.host}: the testbed's address`);
        assert.equal(config.dysco!.gateway, addressOn('router', `${h.host}-wire`), `${h.host}: the router`);
      }
    });

    test('share one control port, and the client\'s chains name the middleboxes\' stacks and the server', () => {
      const ports = new Set(hosts.map((h) => agentConfig(h).dysco!.controlPort));
      assert.equal(ports.size, 1);
      assert.ok([...ports][0]! > 0);
      const middleboxes = new Set(topology.hosts.filter((h) => h.forwarding).map((h) => addressOn(h.name, `${h.name}-link`)));
      const policies = agentConfig('client').policies;
      assert.ok(policies.length > 0);
      for (const p of policies) {
        assert.ok(p.chain.length > 0 && p.chain.every((a) => middleboxes.has(a)), p.name);
        assert.equal(p.match.dstPrefix, `${addressOn('server', 'server-link')}/32`, p.name);
      }
    });

    test('are healthy when /healthz on their metrics port says so, and get more time to stop than they take', () => {
      for (const host of hosts) {
        const config = agentConfig(host);
        const agent = service(`${host}-agent`);
        const url = `http://${config.metrics.host}:${config.metrics.port}/healthz`;
        assert.ok(agent.healthcheck!.test.some((arg) => arg.includes(`fetch('${url}')`)), `${host}: ${url}`);
        assert.ok(seconds(agent.stop_grace_period!) * 1000 > config.shutdown.timeoutMs, host);
      }
    });
  });

  describe('the stacks and the router', () => {
    test('are the agent image with network tools added', () => {
      for (const [name, s] of Object.entries(compose.services).filter(([n]) => !n.endsWith('-agent'))) {
        assert.match(s.build?.dockerfile_inline ?? '', new RegExp(`^FROM ${AGENT_IMAGE.replace(/[.]/g, '\\.')}\\n`), name);
        assert.ok(s.cap_add?.includes('NET_ADMIN'), name);
      }
    });

    test('route the other half of their /24 on-link and go out through the router', () => {
      for (const h of plan) {
        const env = service(h.host).environment!;
        assert.equal(env.ONLINK, compose.networks[`${h.host}-wire`]!.ipam.config[0].subnet, h.host);
        assert.equal(env.GATEWAY, addressOn('router', `${h.host}-wire`), h.host);
        const linkSubnet = compose.networks[`${h.host}-link`]!.ipam.config[0].subnet;
        const routes = service('router').entrypoint!.join(' ').split(/\s|;/);
        assert.ok(routes.includes(`${h.host}:${linkSubnet}`), `the router routes ${linkSubnet} to ${h.host}`);
        assert.equal(service('router').networks[`${h.host}-wire`]?.interface_name, h.host);
      }
    });

    test('the middleboxes forward and run the firewall; client and server run the verified stream', () => {
      for (const h of topology.hosts) {
        const s = service(h.name);
        assert.equal(s.sysctls?.['net.ipv4.ip_forward'], h.forwarding ? 1 : undefined, h.name);
        const script = s.command!.at(-1)!;
        if (h.forwarding) assert.match(script, /iptables -w 5 -P FORWARD DROP/, h.name);
        else assert.match(script, /^stream=\/opt\/dysco\/dist\/src\/testbed\/verified-stream-main\.js$[^]*^node "\$stream" (serve|connect) /m, h.name);
      }
    });
  });
});
