/**
 * Typed reads: one `FactReader` per kind of read a task makes beyond the fixed sections (a command's
 * output, a directory listing, a /proc or /sys value). A reader declares
 *  - `request(arg)`: the ProbeRequest it needs, as `execs` (argv), `listings` and `texts` (never shell
 *    text); the engine merges it into the host's one probe and into the task's partial re-probe;
 *  - a parser from what the probe read ({ code, stdout } per key) to the typed value, checked against
 *    its zod `schema`: a reading that does not fit is a `FactError` naming the host and the fact;
 *  - where a task changes the fact, `project(facts, value)`: the facts as they will be after the change
 *    (the raw readings the probe would then return, so a later task plans against them).
 * Tasks, checks and planners call `reader.read(facts)`; only this layer touches the raw readings.
 *
 *   export const nrOpen = factReader({
 *     name: 'fs.nr_open',
 *     keys: ['nr-open'],
 *     request: () => ({ texts: { 'nr-open': '/proc/sys/fs/nr_open' } }),
 *     schema: z.number().int().nullable(),
 *     parse: (raw) => ...,
 *   });
 *   nrOpen.read(ctx.facts) // 1048576, or null when it could not be read
 */
import type { z } from 'zod';
import { UserError } from '../errors.js';
import type { Facts, ProbeRequest, RawOutput } from './types.js';

/** What a parser sees: the raw reading of each of its keys (undefined: not probed). */
export type RawReads = (key: string) => RawOutput | undefined;

/** What a reader reads: the host's raw readings (and its name, for errors). */
export type ReaderFacts = Pick<Facts, 'outputs'> & { hostname?: string };

/** A reading that does not parse: names the host and the fact, never a stack trace. */
export class FactError extends UserError {
  constructor(host: string, fact: string, why: string) {
    super(`${host}: the probed ${fact} does not parse: ${why}`);
    this.name = 'FactError';
  }
}

/** The part of a ProbeRequest a reader may ask for: argv, listings, small texts (and files, digests). */
export type ReaderRequest = Pick<
  ProbeRequest,
  'execs' | 'listings' | 'texts' | 'files' | 'digests' | 'hashes' | 'present'
>;

export interface FactReader<T, A = void> {
  /** what is read, as an error names it: "dpvs releases (/opt/dpvs/releases, current)" */
  readonly name: string;
  /** the keys of its readings */
  readonly keys: readonly string[];
  readonly schema: z.ZodType<T>;
  /** what the probe must read for it */
  request(arg: A): ReaderRequest;
  /** the typed value of the host's reading; a FactError when it does not fit the schema */
  read(facts: ReaderFacts): T;
  /** the value from raw readings alone (tests, samples): parse + schema check */
  parse(raw: RawReads, host?: string): T;
}

export interface ProjectedReader<T, A = void> extends FactReader<T, A> {
  /** the facts after a change leaves the fact at `value` */
  project<F extends Pick<Facts, 'outputs'>>(facts: F, value: T): F;
  /** the raw readings the probe returns for `value` (tests build facts with it) */
  render(value: T): Record<string, RawOutput>;
}

export interface ReaderDefinition<T, A> {
  name: string;
  keys: readonly string[];
  schema: z.ZodType<T>;
  request(arg: A): ReaderRequest;
  parse(raw: RawReads): unknown;
}

function check<T>(schema: z.ZodType<T>, value: unknown, host: string, name: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const why = r.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`)
    .join('; ');
  throw new FactError(host, name, why);
}

export function factReader<T, A = void>(def: ReaderDefinition<T, A>): FactReader<T, A> {
  const parse = (raw: RawReads, host = 'host'): T => {
    let value: unknown;
    try {
      value = def.parse(raw);
    } catch (e) {
      throw new FactError(host, def.name, e instanceof Error ? e.message : String(e));
    }
    return check(def.schema, value, host, def.name);
  };
  return {
    name: def.name,
    keys: def.keys,
    schema: def.schema,
    request: (arg: A) => def.request(arg),
    parse,
    read: (facts: ReaderFacts) => parse((k) => facts.outputs[k], facts.hostname),
  };
}

/** A reader whose fact a task changes: `render` gives the readings a value comes back as. */
export function projectedReader<T, A = void>(
  def: ReaderDefinition<T, A> & { render(value: T): Record<string, RawOutput> },
): ProjectedReader<T, A> {
  const r = factReader(def);
  return {
    ...r,
    render: (value: T) => def.render(check(def.schema, value, 'projection', def.name)),
    project<F extends Pick<Facts, 'outputs'>>(facts: F, value: T): F {
      return { ...facts, outputs: { ...facts.outputs, ...def.render(value) } };
    },
  };
}

/** A reading that answered: exit 0. */
export function ok(o: RawOutput | undefined): o is RawOutput {
  return !!o && o.code === 0;
}

/** Non-empty trimmed lines. */
export function lines(text: string): string[] {
  return text
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Several readers' requests as one (their keys are their own: nothing is overwritten). */
export function joinRequests(...requests: ReaderRequest[]): ReaderRequest {
  const out: Required<ReaderRequest> = {
    execs: {},
    listings: {},
    texts: {},
    files: [],
    digests: [],
    hashes: {},
    present: [],
  };
  for (const r of requests) {
    Object.assign(out.execs, r.execs ?? {});
    Object.assign(out.listings, r.listings ?? {});
    Object.assign(out.texts, r.texts ?? {});
    Object.assign(out.hashes, r.hashes ?? {});
    out.files.push(...(r.files ?? []));
    out.digests.push(...(r.digests ?? []));
    out.present.push(...(r.present ?? []));
  }
  const some = (o: object): boolean => Object.keys(o).length > 0;
  return {
    ...(some(out.execs) ? { execs: out.execs } : {}),
    ...(some(out.listings) ? { listings: out.listings } : {}),
    ...(some(out.texts) ? { texts: out.texts } : {}),
    ...(some(out.hashes) ? { hashes: out.hashes } : {}),
    ...(out.files.length ? { files: out.files } : {}),
    ...(out.digests.length ? { digests: out.digests } : {}),
    ...(out.present.length ? { present: out.present } : {}),
  };
}
