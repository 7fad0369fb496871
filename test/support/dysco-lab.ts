// A simulated network for walking whole Dysco conversations through real session pipelines on
// Buffers: hosts with their agents, one router between per-host /24s that answers ARP for its
// gateway addresses, and host stacks that are endpoints, IP forwarders or a source NAT.
import { pipelineOptions } from '../../src/agent/agent';
import { dyscoConfigSchema } from '../../src/agent/config';
import type { CoreBinding } from '../../src/native/core-binding';
import { coreTestAddon } from './core-addon';
import type { NativePipeline, PipelineBinding, PipelineOptions } from '../../src/native/pipeline-binding';
import { ipv4ToNumber, numberToIpv4, parseFrame } from './packet-builder';

const native: { core: CoreBinding; pipeline: PipelineBinding } = coreTestAddon;

export type StackKind = 'endpoint' | 'forwarder' | 'nat';

export interface LabHost {
  name: string;
  ip: string;
  mac: string;
  gateway: string;
  gatewayMac: string;
  kind: StackKind;
  agent: NativePipeline;
  /** Frames the agent delivered to this host's stack, in order. */
  delivered: Buffer[];
  /** A forwarder's stack may change what it forwards (a scrubber, a box that rewrites options). */
  rewriteForwarded?: (frame: Buffer) => Buffer;
}

export interface WireRecord {
  from: string;
  frame: Buffer;
}

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((b) => parseInt(b, 16)));
}

function arpReply(senderMac: string, senderIp: string, targetMac: Buffer, targetIp: number): Buffer {
  const frame = Buffer.alloc(60);
  targetMac.copy(frame, 0);
  macBytes(senderMac).copy(frame, 6);
  frame.writeUInt16BE(0x0806, 12);
  frame.writeUInt16BE(1, 14);
  frame.writeUInt16BE(0x0800, 16);
  frame[18] = 6;
  frame[19] = 4;
  frame.writeUInt16BE(2, 20);
  macBytes(senderMac).copy(frame, 22);
  frame.writeUInt32BE(ipv4ToNumber(senderIp), 28);
  targetMac.copy(frame, 32);
  frame.writeUInt32BE(targetIp >>> 0, 38);
  return frame;
}

export class DyscoLab {
  readonly hosts: LabHost[] = [];
  readonly wire: WireRecord[] = [];
  readonly dropped: { host: string; direction: 'from-host' | 'from-wire'; frame: Buffer }[] = [];
  now = 1000;
  /** Return true to lose a frame on the wire (after it is recorded in `wire`). */
  loses?: (from: LabHost, frame: Buffer) => boolean;
  private readonly natMappings = new Map<string, { ip: number; port: number }>();
  private nextNatPort = 40000;

  addHost(name: string, index: number, kind: StackKind, options: Partial<PipelineOptions> = {}): LabHost {
    const ip = `10.0.${index}.2`;
    const host: LabHost = {
      name,
      ip,
      mac: `02:00:00:00:${index.toString(16).padStart(2, '0')}:02`,
      gateway: `10.0.${index}.1`,
      gatewayMac: `02:00:00:00:${index.toString(16).padStart(2, '0')}:01`,
      kind,
      // The agent's defaults (the config schema's), then what the test changes.
      agent: new native.pipeline.Pipeline({
        ...pipelineOptions(dyscoConfigSchema.parse({ address: `${ip}/24`, gateway: `10.0.${index}.1` })),
        ...options,
      }),
      delivered: [],
    };
    this.hosts.push(host);
    return host;
  }

  host(name: string): LabHost {
    const host = this.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  /** The host's stack emits a frame: through its agent, onto the wire, to wherever it goes. */
  send(from: LabHost, frame: Buffer): void {
    const [result] = from.agent.fromHost([frame], this.now);
    this.routeSent(from);
    this.settle(from, result!, 'from-host', frame);
    this.pump();
  }

  /** A frame arrives at `to` from the wire as a router would hand it over (an attacker's, a replayed copy). */
  inject(to: LabHost, frame: Buffer): { verdict: string; frame?: Buffer } {
    const result = this.arrive(to, frame);
    this.pump();
    return result;
  }

  /** Hands `frame` to `to`'s agent from the wire, addressed as the router's link would. */
  private arrive(to: LabHost, frame: Buffer): { verdict: string; frame?: Buffer } {
    const routed = Buffer.from(frame);
    macBytes(to.mac).copy(routed, 0);
    macBytes(to.gatewayMac).copy(routed, 6);
    const [result] = to.agent.fromWire([routed], this.now);
    this.routeSent(to);
    this.settle(to, result!, 'from-wire', routed);
    return result!;
  }

  /** Advances the clock and lets every agent expire what is due. */
  advance(ms: number): void {
    this.now += ms;
    for (const host of this.hosts) host.agent.expire(this.now, 1 << 20);
    this.pump();
  }

  private settle(host: LabHost, result: { verdict: string; frame?: Buffer }, direction: 'from-host' | 'from-wire', input: Buffer): void {
    if (result.verdict === 'drop') this.dropped.push({ host: host.name, direction, frame: input });
    if (result.verdict === 'wire') this.route(host, result.frame!);
    if (result.verdict === 'host') this.deliver(host, result.frame!);
  }

  /** Frames an agent made while it handled a burst leave before the burst's own, as the lcore sends them. */
  private routeSent(host: LabHost): void {
    for (const frame of host.agent.takeSent()) this.route(host, frame);
  }

  /** Lets every agent's own frames (sent by a request, or after ARP) go where they go. */
  flush(): void {
    this.pump();
  }

  /** Frames agents sent by themselves (ARP requests, packets released after ARP). */
  private pump(): void {
    for (let round = 0; round < 16; round++) {
      let moved = false;
      for (const host of this.hosts) {
        for (const frame of host.agent.takeSent()) {
          moved = true;
          this.route(host, frame);
        }
      }
      if (!moved) return;
    }
  }

  private route(from: LabHost, frame: Buffer): void {
    this.wire.push({ from: from.name, frame });
    if (frame.readUInt16BE(12) === 0x0806) {
      // ARP: the router answers for its gateway address on the sender's subnet.
      const target = frame.readUInt32BE(38);
      const opcode = frame.readUInt16BE(20);
      if (opcode === 1 && numberToIpv4(target) === from.gateway) {
        const reply = arpReply(from.gatewayMac, from.gateway, frame.subarray(6, 12), frame.readUInt32BE(28));
        const [result] = from.agent.fromWire([reply], this.now);
        this.settle(from, result!, 'from-wire', reply);
      }
      return;
    }
    if (this.loses?.(from, frame)) return;
    const parsed = parseFrame(frame);
    const to = this.hosts.find((h) => ipv4ToNumber(h.ip) === parsed.ip.dst);
    if (!to) return;  // nowhere to go: lost, like a real router without a route
    this.arrive(to, frame);
  }

  private deliver(host: LabHost, frame: Buffer): void {
    if (frame.readUInt16BE(12) !== 0x0800) return;  // ARP answers: the stack has nothing to do with them here
    host.delivered.push(frame);
    if (host.kind === 'endpoint') return;
    const parsed = parseFrame(frame);
    if (parsed.ip.dst === ipv4ToNumber(host.ip) && host.kind !== 'nat') return;  // for the host itself
    let out: Buffer = Buffer.from(frame);
    if (host.kind === 'nat') {
      const translated = this.translateNat(host, out);
      if (!translated) return;  // addressed to the NAT itself with no mapping: its own stack answers nothing here
      out = translated;
    }
    if (host.rewriteForwarded) out = host.rewriteForwarded(out);
    macBytes(host.gatewayMac).copy(out, 0);
    macBytes(host.mac).copy(out, 6);
    this.send(host, out);
  }

  // Source NAT of everything the host forwards, like iptables MASQUERADE: new flows get the host's
  // address and a fresh port; replies to a mapped port are translated back.
  private translateNat(host: LabHost, frame: Buffer): Buffer | undefined {
    const parsed = parseFrame(frame);
    const tcp = parsed.tcp!;
    const hostIp = ipv4ToNumber(host.ip);
    if (parsed.ip.dst === hostIp) {
      const original = this.natMappings.get(`${tcp.dstPort}`);
      if (!original) return undefined;
      native.core.rewriteIpv4Tcp(frame, { dstIp: original.ip, dstPort: original.port });
      return frame;
    }
    const key = `${parsed.ip.src}:${tcp.srcPort}>${parsed.ip.dst}:${tcp.dstPort}`;
    let port = this.natMappings.get(key)?.port;
    if (port === undefined) {
      port = this.nextNatPort++;
      this.natMappings.set(key, { ip: 0, port });
      this.natMappings.set(`${port}`, { ip: parsed.ip.src, port: tcp.srcPort });
    }
    native.core.rewriteIpv4Tcp(frame, { srcIp: hostIp, srcPort: port });
    return frame;
  }
}
