/**
 * The version `pkg-config --version` prints ("1.8.1" for Debian's pkgconf, "0.27.1" on CentOS 7).
 *
 *   '1.8.1' | null (not installed, printed nothing)
 */
import { z } from 'zod';
import { factReader } from '../read.js';

export const PKG_CONFIG_KEY = 'pkg-config-version';

export const pkgConfigVersion = factReader<string | null>({
  name: 'pkg-config --version',
  keys: [PKG_CONFIG_KEY],
  schema: z.string().min(1).nullable(),
  request: () => ({ execs: { [PKG_CONFIG_KEY]: ['pkg-config', '--version'] } }),
  parse: (raw) => (raw(PKG_CONFIG_KEY)?.stdout ?? '').trim() || null,
});
