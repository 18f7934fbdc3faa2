/**
 * dpvs.conf text -> model. Unknown keywords are kept in each block's `extra` (so they show in diffs);
 * `include` is recorded, never resolved. Syntax errors (unbalanced braces) throw DpvsConfSyntaxError
 * carrying the line number.
 */
import type { DpvsConf, DeviceConf } from './model.js';
import { VERSION_COMMENT_RE } from './render.js';
import { TOP_SPEC, nodesToObject } from './spec.js';
import { parseNodes } from './syntax.js';

export { DpvsConfSyntaxError } from './syntax.js';

export interface ParseOptions {
  /** The DPVS release the file is for; default: the file's `! dpvs-version:` comment, else inferred. */
  dpvsVersion?: string;
}

export function parseDpvsConf(text: string, opts: ParseOptions = {}): DpvsConf {
  const body = nodesToObject(TOP_SPEC, parseNodes(text)) as Omit<DpvsConf, 'dpvsVersion'>;
  const dpvsVersion = opts.dpvsVersion ?? VERSION_COMMENT_RE.exec(text)?.[1] ?? inferVersion(body);
  return { dpvsVersion, ...body };
}

/** A foreign file carries no version: a per-device fdir block means the 1.8 grammar, otherwise 1.9+. */
function inferVersion(conf: Omit<DpvsConf, 'dpvsVersion'>): string {
  const devices: DeviceConf[] = conf.netif_defs.devices;
  return devices.some((d) => d.fdir !== undefined) ? '1.8' : '1.9';
}
