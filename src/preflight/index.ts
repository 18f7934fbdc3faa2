/** Preflight: checks on facts only, with stable ids, severities, fixes and per-host waivers. */
export { allChecks, checkById, CHECK_ID } from './registry.js';
export { runPreflight, blocking, unknownWaivers } from './runner.js';
export { formatCheck } from './format.js';
export { preflightProbe } from './probe.js';
export { renderPreflightDocs } from './docs.js';
