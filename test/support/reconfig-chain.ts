// A chain of agents simulated in memory for the reconfiguration tests: one real ReconfigCoordinator per agent, a
// message bus between them whose delivery order, losses and duplicates the test decides, and a stand-in for the
// anchors' lcores as the datapath contract has them: the right anchor's lcore answers a new path's SYN only when it
// was told to expect it (else a RST refuses it), each lcore switches to two paths on its own, and both post
// old_path_drained, with the new path folded in, once both run two paths. Each lcore's events reach the bus in
// the order that lcore posts them. Middlebox state is a set of agents holding the session's state: an export sends
// a stateChunk over the bus, the new instance answers the left anchor with stateResult as the agent's state mover
// would (src/agent/state-mover.ts). Nothing here decides anything the protocol decides.
import type { AnchorRole, DatapathCommand, DatapathInput } from '../../src/reconfig/datapath-io';
import { ReconfigCoordinator, type CoordinatorResult, type ReconfigOutput, type TimerRef } from '../../src/reconfig/coordinator';
import type { LeftAnchorTiming } from '../../src/reconfig/left-anchor';
import type { ReconfigId, ReconfigMessage, SeqDelta, Tuple } from '../../src/reconfig/messages';
import type { Outcome } from '../../src/reconfig/outcome';

export const addr = (n: number): number => (0x0a000000 + n) >>> 0;
export const A = addr(1);
export const B = addr(2);
export const M = (n: number): number => addr(10 + n);
export const SESSION: Tuple = { srcIp: A, dstIp: B, srcPort: 43210, dstPort: 80 };

export type BusItem =
  | { kind: 'message'; from: number; to: number; message: ReconfigMessage }
  /** `then`: what the lcore posts next, once this one is delivered (its events keep their order). */
  | { kind: 'datapath'; to: number; input: DatapathInput; then?: () => void };

export interface Finished {
  agent: number;
  role: AnchorRole;
  id: ReconfigId;
  outcome: Outcome;
  requestedBy?: number;
}

interface NewPath {
  id: ReconfigId;
  left: number;
  right: number;
  hops: number[];
  leftNew: Tuple;
  rightNew: Tuple;
  twoPaths: Set<number>;
}

const idKey = (id: ReconfigId) => `${id.leftAnchor}/${id.nonce}`;

export interface ChainOptions {
  deltas?: ReadonlyMap<number, SeqDelta>;
  unfixedDeltas?: ReadonlySet<number>;
  timing?: Partial<LeftAnchorTiming>;
}

export class Chain {
  readonly agents = new Map<number, ReconfigCoordinator>();
  /** The session's path as it is now, left to right. */
  path: number[];
  queue: BusItem[] = [];
  timers: { agent: number; timer: TimerRef; afterMs: number }[] = [];
  readonly finished: Finished[] = [];
  readonly results: { item: BusItem; result: CoordinatorResult }[] = [];
  readonly commands: { agent: number; command: DatapathCommand }[] = [];
  readonly retired: number[] = [];
  /** Decides, per left anchor, whether a new path's handshake succeeds; when not, a RST answers its SYN. */
  newPathWorks: (leftAnchor: number) => boolean = () => true;
  /** Per left anchor: its new path's SYNs are lost without a word (a middlebox on it down). */
  newPathSilent: (leftAnchor: number) => boolean = () => false;
  /** SYNs the left anchors' lcores sent, repeats included. */
  synsSent = 0;
  /** The agents whose middlebox holds the session's state (the old path's middleboxes hold it from the start). */
  readonly stateHeld = new Set<number>();
  /** Decides, per new instance, whether it can import the state it is sent. */
  importWorks: (middlebox: number) => boolean = () => true;
  /** The runs each agent started as left anchor, in order. */
  readonly started: { agent: number; id: ReconfigId }[] = [];
  /** AbandonNewPath requests refused with NEW_PATH_IN_USE. */
  abandonRefused = 0;
  private readonly newPaths = new Map<string, NewPath>();
  /** What each right anchor's lcore was told to expect, by reconfiguration. */
  private readonly expected = new Map<string, number>();
  private nextPort = 20000;

  constructor(path: number[], private readonly options: ChainOptions = {}) {
    this.path = [...path];
    for (const middlebox of path.slice(1, -1)) this.stateHeld.add(middlebox);
    const { lefts, rights } = this.links(path);
    for (const here of path) {
      this.agent(here).addSession({
        session: SESSION,
        ...(lefts.has(here) && { left: lefts.get(here)! }),
        ...(rights.has(here) && { right: rights.get(here)! }),
        ...(options.deltas?.has(here) && { delta: options.deltas.get(here)! }),
        deltaFixed: !options.unfixedDeltas?.has(here),
      });
    }
  }

  agent(address: number): ReconfigCoordinator {
    let agent = this.agents.get(address);
    if (!agent) {
      agent = new ReconfigCoordinator({ self: address, firstNonce: (address & 0xff) * 1000, timing: this.options.timing ?? {} });
      this.agents.set(address, agent);
    }
    return agent;
  }

  /** Fresh subsessions between consecutive agents, each as its sender sends it. */
  private links(path: readonly number[]): { lefts: Map<number, Tuple>; rights: Map<number, Tuple> } {
    const lefts = new Map<number, Tuple>();
    const rights = new Map<number, Tuple>();
    for (let i = 0; i + 1 < path.length; i++) {
      const [x, y] = [path[i]!, path[i + 1]!];
      const port = this.nextPort++;
      rights.set(x, { srcIp: x, dstIp: y, srcPort: port, dstPort: port + 10000 });
      lefts.set(y, { srcIp: y, dstIp: x, srcPort: port + 10000, dstPort: port });
    }
    return { lefts, rights };
  }

  start(leftAnchor: number, rightAnchor: number, newHops: number[] = [], transferState = false): CoordinatorResult & { id?: ReconfigId } {
    const result = this.agent(leftAnchor).start({ session: SESSION, rightAnchor, newHops, transferState });
    this.take(leftAnchor, result.outputs);
    return result;
  }

  requestRemoval(middlebox: number): CoordinatorResult {
    const result = this.agent(middlebox).requestRemoval(SESSION);
    this.take(middlebox, result.outputs);
    return result;
  }

  requestMigration(middlebox: number, replacement: number, transferState = true): CoordinatorResult {
    const result = this.agent(middlebox).requestMigration(SESSION, replacement, transferState);
    this.take(middlebox, result.outputs);
    return result;
  }

  deliver(index = 0): CoordinatorResult {
    const [item] = this.queue.splice(index, 1);
    if (!item) throw new Error('nothing to deliver');
    if (item.kind === 'message' && (['stateChunk', 'dropState', 'migrateResult', 'expectState'] as string[]).includes(item.message.type)) {
      const result = this.stateMover(item.to, item.message);
      this.results.push({ item, result });
      return result;
    }
    const agent = this.agent(item.to);
    const result = item.kind === 'message' ? agent.receive(item.message, item.from) : agent.datapath(item.input);
    this.results.push({ item, result });
    this.take(item.to, result.outputs);
    if (item.kind === 'datapath') item.then?.();
    return result;
  }

  /** Deliver until the bus is empty; `choose` picks the next item (default: first in, first out). */
  run(choose: (length: number) => number = () => 0, maxSteps = 10_000): void {
    for (let i = 0; this.queue.length > 0; i++) {
      if (i >= maxSteps) throw new Error(`bus still busy after ${maxSteps} deliveries`);
      this.deliver(choose(this.queue.length));
    }
  }

  /** Fire every armed timer once (the machines ignore the ones they disarmed). */
  fireTimers(): void {
    for (const { agent, timer } of this.timers.splice(0)) this.take(agent, this.agent(agent).timeout(timer).outputs);
  }

  /** Run the bus, then timers, until both are quiet. */
  settle(maxRounds = 100): void {
    for (let round = 0; this.queue.length > 0 || this.timers.length > 0; round++) {
      if (round >= maxRounds) throw new Error('chain does not settle');
      this.run();
      this.fireTimers();
    }
  }

  /** Deliver until the bus is empty, losing on the way every item that matches. */
  runLosing(match: (item: BusItem) => boolean, maxSteps = 10_000): void {
    for (let i = 0; i < maxSteps; i++) {
      this.drop(match);
      if (!this.queue.length) return;
      this.deliver();
    }
    throw new Error(`bus still busy after ${maxSteps} deliveries`);
  }

  /** Drop the queued items that match, as a lossy network would. */
  drop(match: (item: BusItem) => boolean): BusItem[] {
    const dropped = this.queue.filter(match);
    this.queue = this.queue.filter((item) => !match(item));
    return dropped;
  }

  messagesOfType(type: ReconfigMessage['type']): BusItem[] {
    return this.queue.filter((item) => item.kind === 'message' && item.message.type === type);
  }

  outcomeOf(id: ReconfigId | undefined, role: AnchorRole = 'left'): Outcome | undefined {
    if (!id) return undefined;
    return this.finished.find((f) => f.role === role && idKey(f.id) === idKey(id))?.outcome;
  }

  /** Every lock, anchor and held request still in place in any agent. */
  leftovers(): string[] {
    const found: string[] = [];
    for (const [address, agent] of this.agents) {
      const seen = agent.inspect(SESSION);
      if (!seen) continue;
      if (seen.lock && (seen.lock.flag !== 'free' || seen.lock.held.length > 0)) found.push(`${address}: lock ${seen.lock.flag} held ${seen.lock.held.length}`);
      if (seen.leftAnchor && seen.leftAnchor.state !== 'Done') found.push(`${address}: left anchor ${seen.leftAnchor.state}`);
      if (seen.rightAnchor && !['Done', 'Canceled'].includes(seen.rightAnchor.state)) found.push(`${address}: right anchor ${seen.rightAnchor.state}`);
    }
    return found;
  }

  /** The path as the agents' own tables describe it, walking right from the session's left end. */
  walk(): number[] {
    const out = [this.path[0]!];
    for (let i = 0; i < 20; i++) {
      const right = this.agent(out[out.length - 1]!).inspect(SESSION)?.right;
      if (!right) return out;
      const next = this.agent(right.dstIp).inspect(SESSION);
      if (!next?.left || next.left.dstIp !== out[out.length - 1] || next.left.srcPort !== right.dstPort) throw new Error(`broken link at ${right.dstIp}`);
      out.push(right.dstIp);
    }
    throw new Error('path does not end');
  }

  private take(agent: number, outputs: ReconfigOutput[]): void {
    for (const out of outputs) {
      if (out.kind === 'send') this.queue.push({ kind: 'message', from: agent, to: out.to, message: out.message });
      else if (out.kind === 'timer') this.timers.push({ agent, timer: out.timer, afterMs: out.afterMs });
      else if (out.kind === 'finished') this.finished.push({ agent, role: out.role, id: out.id, outcome: out.outcome, ...(out.requestedBy !== undefined && { requestedBy: out.requestedBy }) });
      else if (out.kind === 'started') this.started.push({ agent, id: out.id });
      else if (out.kind === 'exportState') this.exportState(agent, out.id, out.to);
      else this.onCommand(agent, out.command);
    }
  }

  private exportState(agent: number, id: ReconfigId, to: number): void {
    const message: ReconfigMessage = this.stateHeld.has(agent)
      ? { type: 'stateChunk', id, session: SESSION, tuple: SESSION, part: 0, parts: 1, bytes: Buffer.from([agent & 0xff]) }
      : { type: 'stateResult', id, session: SESSION, result: 'not_found' };
    this.queue.push({ kind: 'message', from: agent, to: message.type === 'stateChunk' ? to : id.leftAnchor, message });
  }

  /** What an agent's state mover does with the messages that are not the coordinator's. */
  private stateMover(agent: number, message: ReconfigMessage): CoordinatorResult {
    if (message.type === 'stateChunk') {
      let result: 'ok' | 'exists' | 'failed' = 'ok';
      if (this.stateHeld.has(agent)) result = 'exists';
      else if (!this.importWorks(agent)) result = 'failed';
      else this.stateHeld.add(agent);
      this.queue.push({ kind: 'message', from: agent, to: message.id.leftAnchor, message: { type: 'stateResult', id: message.id, session: SESSION, result } });
    } else if (message.type === 'dropState') {
      this.stateHeld.delete(agent);
    }
    return { status: 'handled', outputs: [] };
  }

  private onCommand(agent: number, command: DatapathCommand): void {
    this.commands.push({ agent, command });
    const post = (to: number, input: DatapathInput, then?: () => void): void => void this.queue.push({ kind: 'datapath', to, input, ...(then && { then }) });
    switch (command.command) {
      case 'retireSession':
        this.retired.push(agent);
        this.stateHeld.delete(agent);
        return;
      case 'expectNewPath':
        this.expected.set(idKey(command.id), agent);
        return;
      case 'openNewPath':
        return this.openNewPath(agent, command, post);
      case 'abandonNewPath': {
        const key = idKey(command.id);
        const path = this.newPaths.get(key);
        if (path?.twoPaths.has(agent)) {
          this.abandonRefused += 1;
          if (command.confirm) post(agent, { event: 'newPathInUse', session: SESSION });
          return;
        }
        if (command.confirm) post(agent, { event: 'newPathAbandoned', session: SESSION });
        if (this.expected.get(key) === agent) this.expected.delete(key);
        if (path && path.twoPaths.size === 0) {
          for (const hop of path.hops) this.agent(hop).removeSession(SESSION);
          this.newPaths.delete(key);
        }
        return;
      }
    }
  }

  private openNewPath(agent: number, command: Extract<DatapathCommand, { command: 'openNewPath' }>, post: (to: number, input: DatapathInput, then?: () => void) => void): void {
    this.synsSent += 1;
    const key = idKey(command.id);
    // A repeated SYN of a handshake under way is a duplicate the new path's far end ignores.
    if (this.newPaths.has(key) || this.newPathSilent(agent)) return;
    const hops = command.hops.slice(0, -1);
    const right = command.hops[command.hops.length - 1]!;
    if (!this.newPathWorks(agent) || this.expected.get(key) !== right) return post(agent, { event: 'newPathFailed', session: SESSION });
    const { lefts, rights } = this.links([agent, ...hops, right]);
    for (const hop of hops) this.agent(hop).addSession({ session: SESSION, left: lefts.get(hop)!, right: rights.get(hop)! });
    const path: NewPath = { id: command.id, left: agent, right, hops, leftNew: rights.get(agent)!, rightNew: lefts.get(right)!, twoPaths: new Set() };
    this.newPaths.set(key, path);
    const drained = () => {
      const l = this.path.indexOf(path.left);
      const r = this.path.indexOf(path.right);
      this.path = [...this.path.slice(0, l + 1), ...path.hops, ...this.path.slice(r)];
      this.expected.delete(key);
      post(path.left, { event: 'oldPathDrained', session: SESSION, role: 'left' });
      post(path.right, { event: 'oldPathDrained', session: SESSION, role: 'right' });
    };
    // Right lcore answers the SYN; left lcore gets the SYN-ACK, ACKs and switches; right lcore gets the ACK, switches.
    post(right, { event: 'newPathSyn', session: SESSION, newSubsession: path.rightNew }, () => {
      path.twoPaths.add(agent);
      post(agent, { event: 'twoPathsEntered', session: SESSION, newSubsession: path.leftNew }, () => {
        path.twoPaths.add(right);
        post(right, { event: 'twoPathsEntered', session: SESSION, newSubsession: path.rightNew }, drained);
      });
    });
  }
}
