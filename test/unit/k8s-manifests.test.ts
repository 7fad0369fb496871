// docker/k8s: every manifest against the Kubernetes schemas kubernetes-models ships, and what the files must agree on
// with each other and with the agent (its config schema, metrics port, shutdown timeout, the image's command).
//
// kubernetes-models' validate() checks types, enums and required fields, but lets unknown fields through (a
// `hostNetwrok: true` passes it). So every field name is also looked up in the package's TypeScript interfaces,
// which are generated from the same OpenAPI definitions: the compiler's checker walks each manifest against them.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import ts from 'typescript';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { agentConfigSchema, mergeConfig } from '../../src/agent/config';
import { DEFAULT_API_DIR } from '../../src/api/socket-path';
import { REPO_ROOT, VERSION } from '../../src/version';

const K8S_DIR = join(REPO_ROOT, 'docker', 'k8s');
const KUSTOMIZATION = 'kustomization.yaml';

type Json = Record<string, any>;

interface Manifest {
  file: string;
  object: Json;
}

/** Every document of every manifest file (the kustomization is kustomize's, not an API object). */
function loadManifests(): Manifest[] {
  return manifestFiles().flatMap((file) =>
    parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8')).flatMap((doc, index) => {
      assert.deepEqual(doc.errors.map(String), [], `${file}, document ${index + 1}`);
      const object = doc.toJS() as Json | null;
      return object === null ? [] : [{ file, object }];
    }),
  );
}

function manifestFiles(): string[] {
  return readdirSync(K8S_DIR)
    .filter((name) => /\.ya?ml$/.test(name) && name !== KUSTOMIZATION)
    .sort();
}

// kubernetes-models is ESM only; tsc turns `import()` into require() in this CommonJS build, so the import is made
// where tsc cannot see it.
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, any>>;

const modulePath = (apiVersion: string, kind: string) => `kubernetes-models/${apiVersion}/${kind}`;

/** kubernetes-models' own check (types, enums, required fields): its error message, or undefined when it passes. */
async function schemaError(object: Json): Promise<string | undefined> {
  const Model = (await importEsm(modulePath(object.apiVersion, object.kind)))[object.kind];
  assert.equal(typeof Model, 'function', `kubernetes-models has no ${object.apiVersion} ${object.kind}`);
  try {
    new Model(object).validate();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Unknown field names, found by walking an object against kubernetes-models' interface of its kind. */
class FieldChecker {
  private readonly checker: ts.TypeChecker;
  private readonly kinds = new Map<string, ts.Type>();

  constructor(kinds: readonly { apiVersion: string; kind: string }[]) {
    const unique = [...new Map(kinds.map((k) => [`${k.apiVersion} ${k.kind}`, k])).entries()];
    // A module that exists only in memory, at the root so that node_modules resolves from it.
    const file = join(REPO_ROOT, 'k8s-kinds.virtual.ts');
    const text = [
      ...unique.map(([, k], i) => `import type { I${k.kind} as Kind${i} } from '${modulePath(k.apiVersion, k.kind)}';`),
      `export interface Kinds {`,
      ...unique.map(([key], i) => `  ${JSON.stringify(key)}: Kind${i};`),
      `}`,
    ].join('\n');
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler, // the package's "exports" name its .d.ts files
      lib: ['lib.es2022.d.ts'],
      types: [],
      skipLibCheck: true,
    };
    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists } = host;
    host.getSourceFile = (name, language, ...rest) =>
      name === file ? ts.createSourceFile(name, text, language) : getSourceFile.call(host, name, language, ...rest);
    host.fileExists = (name) => name === file || fileExists.call(host, name);
    const program = ts.createProgram([file], options, host);
    const source = program.getSourceFile(file)!;
    // An import that does not resolve would leave an `any` that accepts every field: refuse to go on.
    const problems = ts.getPreEmitDiagnostics(program, source).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    assert.deepEqual(problems, [], 'kubernetes-models\' types load');
    this.checker = program.getTypeChecker();
    const kindsType = this.checker.getDeclaredTypeOfSymbol(this.checker.getSymbolAtLocation(source)!.exports!.get(ts.escapeLeadingUnderscores('Kinds'))!);
    for (const [key] of unique) this.kinds.set(key, this.checker.getTypeOfSymbol(kindsType.getProperty(key)!));
  }

  unknownFields(object: Json): string[] {
    const type = this.kinds.get(`${object.apiVersion} ${object.kind}`);
    assert.ok(type, `no types loaded for ${object.apiVersion} ${object.kind}`);
    const found: string[] = [];
    this.walk(type, object, '', found);
    return found;
  }

  private walk(declared: ts.Type, value: unknown, path: string, found: string[]): void {
    if (value === null || typeof value !== 'object') return; // scalars: validate() checks their types
    const type = this.checker.getNonNullableType(declared);
    if (Array.isArray(value)) {
      if (this.checker.isArrayType(type)) {
        const element = this.checker.getTypeArguments(type as ts.TypeReference)[0]!;
        value.forEach((item, i) => this.walk(element, item, `${path}[${i}]`, found));
      }
      return;
    }
    const members = (type.isUnion() ? type.types : [type]).filter((t) => (t.flags & ts.TypeFlags.Object) !== 0);
    if (members.length === 0) return; // an object where a scalar belongs: validate()'s to report
    const index = members.map((t) => this.checker.getIndexInfoOfType(t, ts.IndexKind.String)).find((info) => info !== undefined);
    for (const [key, child] of Object.entries(value)) {
      const where = path === '' ? key : `${path}.${key}`;
      const property = members.map((t) => t.getProperty(key)).find((p) => p !== undefined);
      if (property) this.walk(this.checker.getTypeOfSymbol(property), child, where, found);
      else if (index) this.walk(index.type, child, where, found); // a map: labels, annotations, resources
      else found.push(`${where}: unknown field of ${this.checker.typeToString(type)}${suggestion(key, members)}`);
    }
  }
}

function suggestion(key: string, members: readonly ts.Type[]): string {
  const names = members.flatMap((t) => t.getProperties().map((p) => p.name));
  const best = names.map((name) => ({ name, distance: editDistance(key.toLowerCase(), name.toLowerCase()) })).sort((a, b) => a.distance - b.distance)[0];
  return best && best.distance <= 2 ? ` (did you mean ${best.name}?)` : '';
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** Renames the key at `path` (dotted, numeric parts index arrays) in a deep copy, as a typo would. */
function withRenamedKey(object: Json, path: string, to: string): Json {
  const copy = structuredClone(object);
  const parts = path.split('.');
  const last = parts.pop()!;
  const parent = parts.reduce<any>((node, part) => node[/^\d+$/.test(part) ? Number(part) : part], copy);
  assert.ok(last in parent, `${path} exists in the manifest`);
  const entries = Object.entries(parent).map(([k, v]) => [k === last ? to : k, v] as const);
  for (const k of Object.keys(parent)) delete parent[k];
  Object.assign(parent, Object.fromEntries(entries));
  return copy;
}

const kustomizationSchema = z
  .object({
    apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
    kind: z.literal('Kustomization'),
    namespace: z.string().min(1),
    resources: z.array(z.string().min(1)).min(1),
  })
  .strict();

/** The image's CMD in docker/Dockerfile (its exec form). */
function dockerfileCmd(): string[] {
  const line = readFileSync(join(REPO_ROOT, 'docker', 'Dockerfile'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('CMD '))
    .pop();
  assert.ok(line, 'docker/Dockerfile has a CMD');
  return JSON.parse(line.slice(4)) as string[];
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

describe('docker/k8s manifests', () => {
  let manifests: Manifest[];
  let fields: FieldChecker;
  const one = (kind: string): Json => {
    const found = manifests.filter((m) => m.object.kind === kind);
    assert.equal(found.length, 1, `one ${kind}`);
    return found[0]!.object;
  };
  const daemonSet = () => one('DaemonSet');
  const pod = () => daemonSet().spec.template.spec as Json;
  const agentContainer = () => {
    const containers = pod().containers as Json[];
    assert.equal(containers.length, 1);
    return containers[0]!;
  };
  const configMap = () => one('ConfigMap');
  const fleetConfig = () => parseYaml(configMap().data['agent.yaml']) as Json;
  const nodeConfig = () => parseYaml(readFileSync(join(K8S_DIR, 'node', 'node.yaml'), 'utf8')) as Json;
  /** What an agent runs with: the ConfigMap's file, and the example node file merged onto it, as the DaemonSet does. */
  const agentConfig = () => agentConfigSchema.parse(mergeConfig(fleetConfig(), nodeConfig()));

  before(() => {
    manifests = loadManifests();
    fields = new FieldChecker(manifests.map((m) => m.object as { apiVersion: string; kind: string }));
  });

  describe('against the Kubernetes schemas', () => {
    test('the directory holds the namespace, the service account, the ConfigMap and the DaemonSet, and nothing of RBAC', () => {
      assert.deepEqual(manifests.map((m) => `${m.file}: ${m.object.apiVersion} ${m.object.kind}`), [
        'configmap.yaml: v1 ConfigMap',
        'daemonset.yaml: apps/v1 DaemonSet',
        'namespace.yaml: v1 Namespace',
        'serviceaccount.yaml: v1 ServiceAccount',
      ]);
    });

    test('every manifest passes kubernetes-models\' validate() and has no field its schema lacks', async () => {
      for (const { file, object } of manifests) {
        assert.equal(await schemaError(object), undefined, file);
        assert.deepEqual(fields.unknownFields(object), [], file);
      }
    });

    test('a typo in a pod field fails, although validate() lets it through', async () => {
      const typo = withRenamedKey(daemonSet(), 'spec.template.spec.hostNetwork', 'hostNetwrok');
      assert.equal(await schemaError(typo), undefined, 'validate() does not check field names');
      assert.deepEqual(fields.unknownFields(typo), [
        'spec.template.spec.hostNetwrok: unknown field of IPodSpec (did you mean hostNetwork?)',
      ]);
    });

    test('a typo deep inside a container fails too', () => {
      const typo = withRenamedKey(daemonSet(), 'spec.template.spec.containers.0.livenessProbe.httpGet', 'httpGett');
      assert.deepEqual(fields.unknownFields(typo), [
        'spec.template.spec.containers[0].livenessProbe.httpGett: unknown field of IProbe (did you mean httpGet?)',
      ]);
      const volumeTypo = withRenamedKey(daemonSet(), 'spec.template.spec.volumes.1.hostPath.type', 'typ');
      assert.match(fields.unknownFields(volumeTypo).join('\n'), /^spec\.template\.spec\.volumes\[1\]\.hostPath\.typ: unknown field/);
      const topTypo = withRenamedKey(one('ServiceAccount'), 'automountServiceAccountToken', 'automountServiceAcountToken');
      assert.deepEqual(fields.unknownFields(topTypo), [
        'automountServiceAcountToken: unknown field of IServiceAccount (did you mean automountServiceAccountToken?)',
      ]);
    });

    test('maps take any key: labels, annotations, resources, ConfigMap data', () => {
      const copy = structuredClone(daemonSet());
      copy.spec.template.metadata.annotations['example.com/anything'] = 'x';
      copy.spec.template.spec.containers[0].resources.limits['example.com/device'] = '1';
      assert.deepEqual(fields.unknownFields(copy), []);
    });

    test('a wrong value type or enum fails validate()', async () => {
      const wrongType = structuredClone(daemonSet());
      wrongType.spec.template.spec.hostNetwork = 'yes';
      assert.match((await schemaError(wrongType)) ?? '', /hostNetwork must be boolean/);
      const wrongEnum = structuredClone(daemonSet());
      wrongEnum.spec.template.spec.dnsPolicy = 'ClusterFirstWithHostNetwork';
      assert.match((await schemaError(wrongEnum)) ?? '', /dnsPolicy must be equal to one of the allowed values/);
    });

    test('the kustomization names exactly the other files of the directory, and its namespace is theirs', () => {
      const kustomization = kustomizationSchema.parse(parseYaml(readFileSync(join(K8S_DIR, KUSTOMIZATION), 'utf8')));
      assert.deepEqual([...kustomization.resources].sort(), manifestFiles());
      assert.equal(one('Namespace').metadata.name, kustomization.namespace);
      for (const { file, object } of manifests.filter((m) => m.object.kind !== 'Namespace')) assert.equal(object.metadata.namespace, kustomization.namespace, file);
      assert.equal(kustomizationSchema.safeParse({ ...kustomization, resource: kustomization.resources }).success, false, 'a typo in it fails');
    });
  });

  describe('the agent\'s config in the ConfigMap', () => {
    test('parses under the agent\'s schema: af_packet ports, no hugepages, metrics on every address at a fixed port', () => {
      const config = agentConfig();
      assert.match(config.host.device, /^net_af_packet\d+,iface=[\w.-]+$/);
      assert.match(config.wire.device, /^net_af_packet\d+,iface=[\w.-]+$/);
      assert.equal(config.eal.hugepages, false);
      assert.deepEqual([config.metrics.enabled, config.metrics.host], [true, '0.0.0.0']);
      assert.ok(config.metrics.port > 0);
    });

    test('Dysco mode with fleet policies from etcd; the node\'s own address comes from the node\'s file alone', () => {
      const config = agentConfig();
      assert.equal(config.dysco?.address, '10.0.1.2/24');
      assert.ok((config.dysco?.controlPort ?? 0) > 0, 'the control channel is on');
      assert.ok(config.policyEtcd && config.policyEtcd.endpoints.length > 0);
      assert.equal(fleetConfig().dysco.address, undefined, 'no node address in the file all nodes share');
      assert.equal(agentConfigSchema.safeParse(fleetConfig()).success, false, 'the shared file alone is not a whole config');
      assert.deepEqual(Object.keys(nodeConfig()), ['dysco'], 'the node file holds only what differs between nodes');
    });

    test('sets the shutdown timeout itself, and a typo in it would stop the agent', () => {
      const raw = parseYaml(configMap().data['agent.yaml']) as Json;
      assert.equal(typeof raw.shutdown?.timeoutMs, 'number');
      const typo = { ...raw, shutdown: { timeoutMS: raw.shutdown.timeoutMs } };
      assert.equal(agentConfigSchema.safeParse(typo).success, false);
    });
  });

  describe('what the files agree on', () => {
    test('the probes, the container port and the scrape annotations all name the config\'s metrics port', () => {
      const port = agentConfig().metrics.port;
      const container = agentContainer();
      const portByName = new Map((container.ports as Json[]).map((p) => [p.name, p.containerPort]));
      const resolve = (p: number | string) => (typeof p === 'number' ? p : portByName.get(p));
      assert.equal(portByName.get('metrics'), port);
      for (const probe of ['livenessProbe', 'readinessProbe']) {
        assert.equal(container[probe].httpGet.path, '/healthz', probe);
        assert.equal(resolve(container[probe].httpGet.port), port, probe);
      }
      assert.deepEqual(daemonSet().spec.template.metadata.annotations, {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(port),
        'prometheus.io/path': '/metrics',
      });
    });

    test('the grace period outlasts the agent\'s shutdown timeout', () => {
      assert.ok(pod().terminationGracePeriodSeconds * 1000 > agentConfig().shutdown.timeoutMs, `${pod().terminationGracePeriodSeconds} s`);
    });

    test('the agent runs the image\'s command on the ConfigMap\'s agent.yaml', () => {
      const container = agentContainer();
      assert.equal(container.command, undefined, 'the image\'s ENTRYPOINT (tini) stays');
      const cmd = dockerfileCmd();
      assert.deepEqual(container.args.slice(0, cmd.length), cmd);
      const configPath = flagValue(container.args, '--config')!;
      const mount = (container.volumeMounts as Json[]).find((m) => configPath.startsWith(`${m.mountPath}/`));
      assert.ok(mount, `a volume is mounted where ${configPath} is`);
      const volume = (pod().volumes as Json[]).find((v) => v.name === mount.name)!;
      assert.equal(volume.configMap?.name, configMap().metadata.name, 'the volume is the ConfigMap that exists');
      const item = (volume.configMap.items as Json[]).find((i) => `${mount.mountPath}/${i.path}` === configPath);
      assert.ok(item && item.key in configMap().data, `the ConfigMap has the key for ${configPath}`);
    });

    test('the node\'s own file comes second, from a hostPath that must exist', () => {
      const container = agentContainer();
      const cmd = dockerfileCmd();
      const [flag, nodePath, ...rest] = container.args.slice(cmd.length);
      assert.deepEqual([flag, rest], ['--config', []]);
      const mount = (container.volumeMounts as Json[]).find((m) => m.mountPath === nodePath)!;
      assert.ok(mount?.readOnly, `${nodePath} is mounted read-only`);
      const volume = (pod().volumes as Json[]).find((v) => v.name === mount.name)!;
      assert.equal(volume.hostPath?.type, 'File', 'a node without the file does not start the agent half-configured');
      assert.ok(!(container.volumeMounts as Json[]).some((m) => m !== mount && nodePath.startsWith(`${m.mountPath}/`)), 'not inside the ConfigMap\'s read-only mount');
    });

    test('the control API\'s socket lies in a hostPath /run/dysco', () => {
      const mount = (agentContainer().volumeMounts as Json[]).find((m) => m.mountPath === DEFAULT_API_DIR)!;
      assert.ok(mount, `${DEFAULT_API_DIR} is mounted`);
      const volume = (pod().volumes as Json[]).find((v) => v.name === mount.name)!;
      assert.equal(volume.hostPath?.path, DEFAULT_API_DIR);
      assert.ok(agentConfig().api.socket?.startsWith(`${DEFAULT_API_DIR}/`), 'the config puts the socket there');
    });

    test('the service account exists and neither it nor the pod mounts an API token', () => {
      const account = one('ServiceAccount');
      assert.equal(pod().serviceAccountName, account.metadata.name);
      assert.equal(account.automountServiceAccountToken, false);
      assert.equal(pod().automountServiceAccountToken, false);
    });

    test('the image is the one npm run image tags', () => {
      assert.equal(agentContainer().image, `localhost/dysco:${VERSION}`);
      assert.match(readFileSync(join(REPO_ROOT, 'scripts', 'image.sh'), 'utf8'), /printf '%s\\n' "localhost\/dysco:\$version"/);
    });
  });

  describe('the DaemonSet', () => {
    test('runs privileged on the node\'s network on every Linux node, tainted or not', () => {
      const spec = pod();
      assert.equal(agentContainer().securityContext.privileged, true);
      assert.equal(spec.hostNetwork, true);
      assert.equal(spec.dnsPolicy, 'ClusterFirstWithHostNet');
      assert.deepEqual(spec.nodeSelector, { 'kubernetes.io/os': 'linux' });
      assert.deepEqual(spec.tolerations, [{ operator: 'Exists' }]);
    });

    test('rolls one node at a time, its selector matches its pods, and it asks for what it uses', () => {
      const ds = daemonSet();
      assert.deepEqual(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
      for (const [key, value] of Object.entries(ds.spec.selector.matchLabels)) assert.equal(ds.spec.template.metadata.labels[key], value, key);
      const { requests, limits } = agentContainer().resources;
      for (const resource of ['cpu', 'memory']) assert.ok(requests[resource] && limits[resource], resource);
    });
  });
});

