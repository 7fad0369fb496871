// Tables for `dysco ctl`.
import type { MigrationSessionResult, MigrationSummary, ReconfigureSessionResult, SessionRecord, Tuple } from '../../api/types';
import type { Policy } from '../../policy/model';
import type { EffectivePolicy } from '../../policy/store';

export function formatTuple(t: Tuple): string {
  return `${t.srcIp}:${t.srcPort}->${t.dstIp}:${t.dstPort}`;
}

/** Columns padded to their widest cell; columns listed in `right` are right-aligned. */
export function formatTable(header: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const same = (a: Tuple, b: Tuple) => a.srcIp === b.srcIp && a.dstIp === b.dstIp && a.srcPort === b.srcPort && a.dstPort === b.dstPort;

export function sessionRow(s: SessionRecord): string[] {
  const sessions: Tuple[] = [];
  for (const side of [s.left, s.right]) if (side && !sessions.some((t) => same(t, side.session))) sessions.push(side.session);
  const subs = [
    s.left?.subsession ? `L ${formatTuple(s.left.subsession)}` : undefined,
    s.right?.subsession ? `R ${formatTuple(s.right.subsession)}` : undefined,
  ].filter((x) => x !== undefined);
  return [
    String(s.id),
    s.state,
    s.role,
    sessions.map(formatTuple).join(' | ') || '-',
    subs.join(' | ') || '-',
    s.chain.join(',') || '-',
    String(s.packets),
    String(s.bytes),
    String(s.idleSeconds),
  ];
}

export function formatSessions(sessions: readonly SessionRecord[]): string {
  return formatTable(['ID', 'STATE', 'ROLE', 'SESSION', 'SUBSESSIONS', 'CHAIN', 'PACKETS', 'BYTES', 'IDLE_S'], sessions.map(sessionRow), new Set([0, 6, 7, 8]));
}

/** SRC, DST, SRC_PORTS, DST_PORTS and CHAIN cells of a policy. */
export const POLICY_COLUMNS = ['SRC', 'DST', 'SRC_PORTS', 'DST_PORTS', 'CHAIN'];

export function policyCells(p: Policy): string[] {
  return [
    p.match.srcPrefix ?? '*',
    p.match.dstPrefix ?? '*',
    p.match.srcPorts === undefined ? '*' : String(p.match.srcPorts),
    p.match.dstPorts === undefined ? '*' : String(p.match.dstPorts),
    p.chain.length ? p.chain.join(',') : '(direct)',
  ];
}

export function formatPolicies(policies: readonly EffectivePolicy[]): string {
  return formatTable(
    ['#', 'NAME', 'SOURCE', ...POLICY_COLUMNS],
    policies.map((p, i) => [String(i), p.name, p.source, ...policyCells(p)]),
    new Set([0]),
  );
}

export function formatReconfigureResults(results: readonly ReconfigureSessionResult[]): string {
  if (results.length === 0) return 'no session matched';
  return formatTable(
    ['SESSION', 'ID', 'OUTCOME', 'REASON', 'TIME_MS'],
    results.map((r) => [formatTuple(r.session), r.sessionId === undefined ? '-' : String(r.sessionId), r.outcome, r.reason ?? '-', r.durationMs.toFixed(1)]),
    new Set([1, 4]),
  );
}

export function formatMigrationResults(results: readonly MigrationSessionResult[]): string {
  if (results.length === 0) return 'no session matched';
  const ms = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(1));
  return formatTable(
    ['SESSION', 'OUTCOME', 'REASON', 'SWITCHED_MS', 'TIME_MS', 'ROUND_TRIP_MS'],
    results.map((r) => [formatTuple(r.session), r.outcome, r.reason ?? '-', ms(r.switchedMs), ms(r.durationMs), ms(r.roundTripMs)]),
    new Set([3, 4, 5]),
  );
}

export function formatMigrationSummary(s: MigrationSummary): string {
  const ms = (value: number | null) => (value === null ? '-' : `${value.toFixed(1)} ms`);
  const reasons = Object.entries(s.reasons).map(([reason, n]) => `${reason} ${n}`);
  return [
    `${s.completed} of ${s.sessions} sessions moved in ${(s.totalMs / 1000).toFixed(2)} s` + (s.failed || s.unfinished ? ` (${s.failed} failed, ${s.unfinished} unfinished)` : ''),
    `per session, until switched: p50 ${ms(s.switchP50Ms)}, p99 ${ms(s.switchP99Ms)}; until the old path ended: p50 ${ms(s.p50Ms)}, p99 ${ms(s.p99Ms)}, max ${ms(s.maxMs)}`,
    ...(reasons.length ? [`not moved, by reason: ${reasons.join(', ')} (those sessions stay on their old path)`] : []),
  ].join('\n');
}

/** One line of progress, rewritten in place on a terminal. */
export function formatMigrationProgress(total: number, done: readonly MigrationSessionResult[], elapsedMs: number): string {
  const completed = done.filter((r) => r.outcome === 'completed').length;
  return `moving ${done.length}/${total} · ${completed} moved · ${done.length - completed} not · ${(elapsedMs / 1000).toFixed(1)} s`;
}
