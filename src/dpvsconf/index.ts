/** dpvs.conf model, renderer, parser, worker layout, validation, diff and EAL arguments. */
export * from './model.js';
export {
  buildDpvsConf,
  workersOfConf,
  portsOfConf,
  type BuildInput,
  type BuildSettings,
  type NicInput,
} from './build.js';
export { renderDpvsConf, MANAGED_MARKER } from './render.js';
export { parseDpvsConf, DpvsConfSyntaxError, type ParseOptions } from './parse.js';
export { unifiedDiff, type DiffLabels } from './diff.js';
export * from './layout.js';
export * from './validate.js';
export * from './eal.js';
