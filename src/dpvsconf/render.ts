/**
 * dpvs.conf model -> text, in upstream's layout: `!` comments, 4-space indentation, `<init>` markers on
 * init-only keywords, blocks in upstream order. Pure and deterministic.
 */
import type { DpvsConf } from './model.js';
import { TOP, fieldNodes, propOf } from './spec.js';
import { printNodes, type ConfNode } from './syntax.js';

export const MANAGED_MARKER = 'managed by dpvs-deploy; do not edit';
/** Comment line that records the DPVS release the file was written for (read back by the parser). */
export const VERSION_COMMENT_RE = /^\s*[!#]\s*dpvs-version:\s*(\S+)\s*$/m;

const BANNER = '!'.repeat(84);

export function renderDpvsConf(conf: DpvsConf): string {
  if (!/^[\w.-]+$/.test(conf.dpvsVersion)) {
    throw new Error(`dpvsVersion must be a plain version string, got ${JSON.stringify(conf.dpvsVersion)}`);
  }
  const header = [
    BANNER,
    `! dpvs.conf: ${MANAGED_MARKER}.`,
    '! Changes made here are overwritten by the next apply; change the inventory instead.',
    `! dpvs-version: ${conf.dpvsVersion}`,
    '! Keywords marked <init> take effect at start only, not on reload (SIGHUP).',
    BANNER,
  ];
  const record = conf as unknown as Record<string, unknown>;
  const nodes: ConfNode[] = [];
  for (const { spec, comment } of TOP) {
    const produced = fieldNodes(spec, record[propOf(spec)]);
    const first = produced[0];
    if (first) first.comment = [comment];
    nodes.push(...produced);
  }
  const extra = conf.extra ?? [];
  const firstExtra = extra[0];
  if (firstExtra)
    nodes.push({ ...firstExtra, comment: ['keywords dpvs-deploy does not manage'] }, ...extra.slice(1));
  return [...header, '', ...printNodes(nodes), ''].join('\n');
}
