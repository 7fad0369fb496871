// The control API's view of the datapath's sessions: native summaries, paged by the lcore, turned
// into SessionRecords with dotted addresses, state and role names, and the chain of the policy
// that started the session (known at the initiating agent only).
import type { SessionRecord, SessionSource, TcpHandshake, Tuple } from '../api/types';
import type { Datapath } from '../datapath/datapath';
import type { NativeHandshake, NativeTuple } from '../native/session-types';
import { SESSION_ROLES, SESSION_STATES } from '../native/generated/codes';
import type { EffectivePolicy } from '../policy/store';
import { formatIpv4 } from '../net/ipv4';

function handshake(h: NativeHandshake): TcpHandshake {
  return { isn: h.isn, windowScale: h.windowScale, sackPermitted: h.sackPermitted, timestamps: h.timestamps, tsVal: h.tsVal };
}

function tuple(t: NativeTuple | undefined): Tuple | undefined {
  return t && { srcIp: formatIpv4(t.srcIp), dstIp: formatIpv4(t.dstIp), srcPort: t.srcPort, dstPort: t.dstPort };
}

export class DatapathSessionSource implements SessionSource {
  constructor(
    private readonly datapath: Pick<Datapath, 'sessions'>,
    private readonly policies: () => readonly EffectivePolicy[],
  ) {}

  async sessions(cursor: number, limit: number): Promise<{ sessions: SessionRecord[]; nextCursor: number | null }> {
    const page = await this.datapath.sessions(cursor, limit);
    const policies = this.policies();
    return {
      nextCursor: page.nextCursor,
      sessions: page.sessions.map((s) => {
        const left = tuple(s.leftSession);
        const right = tuple(s.rightSession);
        const record: SessionRecord = {
          id: s.id,
          state: SESSION_STATES[s.state] ?? `state_${s.state}`,
          role: SESSION_ROLES[s.role] ?? 'middlebox',
          chain: s.ruleId >= 0 ? [...(policies[s.ruleId]?.chain ?? [])] : [],
          packets: s.packets,
          bytes: s.bytes,
          idleSeconds: s.idleMs / 1000,
          handshake: { forward: handshake(s.handshake[0]), reverse: handshake(s.handshake[1]) },
          ...(s.reconfig && { reconfig: s.reconfig }),
        };
        if (left) record.left = { session: left, ...(s.leftSubsession ? { subsession: tuple(s.leftSubsession)! } : {}) };
        if (right) record.right = { session: right, ...(s.rightSubsession ? { subsession: tuple(s.rightSubsession)! } : {}) };
        return record;
      }),
    };
  }
}
