// The last good fleet policy set, kept on disk so that an agent that starts while its policy source (the
// HTTP policy service or etcd) is down still chains sessions. Written atomically (temp file + rename).
// A cache records its origin (a URL, or etcd endpoints and prefix); one from another origin is not used,
// so that switching an agent to a new source never installs the old source's policies.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Policy } from './model';
import { validatePolicies } from './validate';

const FORMAT = 'dysco-policy-cache/1';

const cacheSchema = z.object({
  format: z.literal(FORMAT),
  version: z.string().min(1),
  url: z.string(),
  savedAt: z.string(),
  policies: z.unknown(),
});

export interface CachedPolicySet {
  version: string;
  savedAt: string;
  policies: Policy[];
}

export type CacheReadResult = { ok: true; set: CachedPolicySet } | { ok: false; reason: string };

export class PolicyCacheFile {
  constructor(
    readonly path: string,
    /** Where the set came from; stored under `url` (the field's name predates the etcd source). */
    readonly origin: string,
  ) {}

  /** Throws on an I/O error (the temp file is removed). */
  write(version: string, policies: readonly Policy[]): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      const content = { format: FORMAT, version, url: this.origin, savedAt: new Date().toISOString(), policies };
      writeFileSync(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o644 });
      renameSync(tmp, this.path);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw error;
    }
  }

  read(): CacheReadResult {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (error) {
      return { ok: false, reason: (error as Error).message };
    }
    const shape = cacheSchema.safeParse(data);
    if (!shape.success) return { ok: false, reason: 'not a policy cache file' };
    if (shape.data.url !== this.origin) return { ok: false, reason: `cached from ${shape.data.url}, not ${this.origin}` };
    const validated = validatePolicies(shape.data.policies, 'policies');
    if (!validated.ok) return { ok: false, reason: `invalid policies: ${validated.errors.join('; ')}` };
    return { ok: true, set: { version: shape.data.version, savedAt: shape.data.savedAt, policies: validated.value } };
  }
}
