// The keys agents share (issue 9, docs/security.md when it lands): each has an id that travels with a MAC, so that
// a receiver knows which key to check it with. Several ids are accepted at once and one of them signs; rotating is
// adding the new key everywhere, then signing with it everywhere, then dropping the old one. A ring is parsed from
// the config's security section or a key file, and replaced whole on reload: a bad file leaves the ring as it was.
//
// No key lives in the source or the defaults: without a ring, authentication is off.
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** The MAC's key (SipHash-2-4, native/core/mac.h): 16 bytes. */
export const KEY_BYTES = 16;
/** Key ids travel as 16-bit numbers; 0 means "no key" on the wire. */
export const KEY_ID_MAX = 0xffff;

const keyHex = z
  .string()
  .regex(/^[0-9a-fA-F]+$/, 'must be hexadecimal')
  .refine((hex) => hex.length === 2 * KEY_BYTES, `must be ${KEY_BYTES} bytes (${2 * KEY_BYTES} hex digits)`);

export const keyRingSchema = z
  .object({
    keys: z
      .array(z.object({ id: z.number().int().min(1).max(KEY_ID_MAX), key: keyHex }).strict())
      .min(1, 'name at least one key')
      .max(8, 'at most 8 keys (the datapath holds 8)'),
    signingKeyId: z.number().int().min(1).max(KEY_ID_MAX),
  })
  .strict()
  .superRefine((ring, ctx) => {
    const seen = new Set<number>();
    ring.keys.forEach((k, i) => {
      if (seen.has(k.id)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `key id ${k.id} is given twice`, path: ['keys', i, 'id'] });
      seen.add(k.id);
    });
    if (!seen.has(ring.signingKeyId)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `signingKeyId ${ring.signingKeyId} names no key of the ring`, path: ['signingKeyId'] });
    }
  });

export type KeyRingConfig = z.infer<typeof keyRingSchema>;

export class KeyRingError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(problems.length ? `${message}: ${problems.join('; ')}` : message);
  }
}

export class KeyRing {
  private readonly keys: ReadonlyMap<number, Buffer>;

  private constructor(
    keys: Map<number, Buffer>,
    readonly signingKeyId: number,
  ) {
    this.keys = keys;
  }

  /** A ring from its config form; throws KeyRingError naming every problem. */
  static parse(raw: unknown): KeyRing {
    const parsed = keyRingSchema.safeParse(raw);
    if (!parsed.success) {
      throw new KeyRingError('invalid key ring', parsed.error.issues.map((i) => `${i.path.join('.') || '(ring)'}: ${i.message}`));
    }
    return new KeyRing(new Map(parsed.data.keys.map((k) => [k.id, Buffer.from(k.key, 'hex')])), parsed.data.signingKeyId);
  }

  /**
   * A ring from a key file (YAML or JSON, the config's form). The file must be readable by its owner alone: a key
   * that others on the host can read is no secret.
   */
  static fromFile(path: string): KeyRing {
    let mode: number;
    let text: string;
    try {
      mode = statSync(path).mode;
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new KeyRingError(`cannot read key file ${path}: ${(error as Error).message}`);
    }
    if ((mode & 0o077) !== 0) {
      throw new KeyRingError(`key file ${path} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
    }
    let raw: unknown;
    try {
      raw = parseYaml(text);
    } catch (error) {
      throw new KeyRingError(`key file ${path} is not YAML or JSON: ${(error as Error).message}`);
    }
    try {
      return KeyRing.parse(raw);
    } catch (error) {
      if (error instanceof KeyRingError) throw new KeyRingError(`key file ${path}`, error.problems);
      throw error;
    }
  }

  /** The key signing what this agent sends. */
  get signing(): { id: number; key: Buffer } {
    return { id: this.signingKeyId, key: this.keys.get(this.signingKeyId)! };
  }

  /** The key of an id a MAC came with, or undefined: an unknown id (a retired key, a forgery) fails verification. */
  key(id: number): Buffer | undefined {
    return this.keys.get(id);
  }

  /** The ids accepted, ascending (for logs and metrics; never the keys). */
  get ids(): number[] {
    return [...this.keys.keys()].sort((a, b) => a - b);
  }
}

/**
 * The ring an agent uses now, from a key file reloaded on demand (SIGHUP): a reload that fails keeps the ring in
 * use and says why, so that a typo in a rotation never leaves an agent without keys.
 */
export class KeyRingSource {
  private ring: KeyRing;

  constructor(
    private readonly path: string,
    private readonly onReload: (outcome: { ok: true; ids: number[]; signingKeyId: number } | { ok: false; error: string }) => void = () => undefined,
  ) {
    this.ring = KeyRing.fromFile(path);
  }

  get current(): KeyRing {
    return this.ring;
  }

  reload(): boolean {
    try {
      this.ring = KeyRing.fromFile(this.path);
      this.onReload({ ok: true, ids: this.ring.ids, signingKeyId: this.ring.signingKeyId });
      return true;
    } catch (error) {
      this.onReload({ ok: false, error: (error as Error).message });
      return false;
    }
  }
}
