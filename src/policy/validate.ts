// Validation of policies at every boundary (config file, control API, policy service, cache file).
// Every message names the field, e.g. `policies[2].match.dstPrefix: "10.0.0.0/33" is not an IPv4 prefix`.
//
// Decisions: a prefix with host bits set ("10.0.0.1/24") is rejected, not normalised: it is almost always a
// typo for a host address, and silently widening it would chain sessions nobody meant to chain. A port may
// be a number, a decimal string, or "lo-hi"; ranges are inclusive within 1..65535. Names are unique.
import { z } from 'zod';
import { formatIpv4, hasHostBits, parseIpv4, parsePrefix } from '../net/ipv4';
import { MAX_CHAIN, MAX_POLICIES, parsePortSpec, POLICY_NAME_PATTERN, type Policy } from './model';

const show = (value: unknown) => JSON.stringify(value);

export const ipv4HostSchema = z.string({ invalid_type_error: 'must be an IPv4 address string' }).superRefine((text, ctx) => {
  const value = parseIpv4(text);
  if (value === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${show(text)} is not an IPv4 address` });
  else if (value === 0 || value === 0xffffffff || value >= 0xe0000000)
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${show(text)} is not a unicast host address` });
});

export const prefixSchema = z.string({ invalid_type_error: 'must be a string "a.b.c.d/n"' }).superRefine((text, ctx) => {
  const prefix = parsePrefix(text);
  if (!prefix) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${show(text)} is not an IPv4 prefix (a.b.c.d/n, n from 0 to 32)` });
  } else if (hasHostBits(prefix)) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `${show(text)} has host bits set (did you mean "${formatIpv4(prefix.net)}/${prefix.length}"?)`,
    });
  }
});

export const portSpecSchema = z
  .union([z.number(), z.string()], { errorMap: () => ({ message: 'must be a port number or a "lo-hi" range' }) })
  .superRefine((spec, ctx) => {
    if (!parsePortSpec(spec))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `${show(spec)} is not a port or port range (integers 1..65535, "lo-hi" with lo <= hi)`,
      });
  });

export const policyMatchSchema = z
  .object({
    srcPrefix: prefixSchema.optional(),
    dstPrefix: prefixSchema.optional(),
    srcPorts: portSpecSchema.optional(),
    dstPorts: portSpecSchema.optional(),
  })
  .strict();

export const policySchema = z
  .object({
    name: z
      .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
      .regex(POLICY_NAME_PATTERN, 'must be 1 to 64 characters of [a-z0-9_-]'),
    match: policyMatchSchema,
    chain: z.array(ipv4HostSchema).max(MAX_CHAIN, `at most ${MAX_CHAIN} middlebox addresses`),
  })
  .strict();

/** Adds an issue per duplicate name (pointing at the later one) to a list of policies. */
export function checkUniqueNames(policies: readonly { name: string }[], ctx: z.RefinementCtx, pathPrefix: (string | number)[] = []): void {
  const seen = new Map<string, number>();
  policies.forEach((policy, index) => {
    const first = seen.get(policy.name);
    if (first === undefined) seen.set(policy.name, index);
    else
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [...pathPrefix, index, 'name'],
        message: `duplicate policy name ${show(policy.name)} (first at index ${first})`,
      });
  });
}

export const policyListSchema = z
  .array(policySchema)
  .max(MAX_POLICIES, `at most ${MAX_POLICIES} policies`)
  .superRefine((policies, ctx) => checkUniqueNames(policies, ctx));

/** `root` + zod path as `policies[2].match.dstPrefix`. */
export function fieldName(root: string, path: readonly (string | number)[]): string {
  let out = root;
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out || '(root)';
}

export function describeZodIssues(error: z.ZodError, root: string): string[] {
  return error.issues.map((issue) => {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      return `${fieldName(root, issue.path)}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(show).join(', ')}`;
    }
    if (issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined') {
      return `${fieldName(root, issue.path)}: is required`;
    }
    return `${fieldName(root, issue.path)}: ${issue.message}`;
  });
}

export class PolicyValidationError extends Error {
  constructor(readonly errors: string[]) {
    super(errors.join('; '));
    this.name = 'PolicyValidationError';
  }
}

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: string[] };

export function validatePolicy(input: unknown, root = ''): Validation<Policy> {
  const result = policySchema.safeParse(input);
  return result.success ? { ok: true, value: result.data } : { ok: false, errors: describeZodIssues(result.error, root) };
}

export function validatePolicies(input: unknown, root = 'policies'): Validation<Policy[]> {
  const result = policyListSchema.safeParse(input);
  return result.success ? { ok: true, value: result.data } : { ok: false, errors: describeZodIssues(result.error, root) };
}

/** Like validatePolicies, but throws PolicyValidationError. */
export function parsePolicies(input: unknown, root = 'policies'): Policy[] {
  const result = validatePolicies(input, root);
  if (!result.ok) throw new PolicyValidationError(result.errors);
  return result.value;
}
