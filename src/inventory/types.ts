import type { Diagnostic } from '../errors.js';
import type { ControlInputs } from './control.js';
import type { HostSettings, Inventory, Role, ServiceEntry } from './schema.js';

/** A host after defaults, group vars and host values are merged (later wins; arrays replace). */
export interface ResolvedHost extends HostSettings {
  name: string;
  address: string;
  roles: Role[];
  /** Groups the host belongs to, in document order. */
  groups: string[];
}

/** Where a value sits in the inventory file: 1-based line and column. */
export interface SourcePosition {
  line: number;
  col: number;
}

export interface LoadedInventory {
  /** Absolute path of the inventory file. */
  file: string;
  /** Directory relative paths in the inventory resolve against. */
  dir: string;
  /** sha256 of the file's bytes. */
  checksum: string;
  doc: Inventory;
  hosts: ResolvedHost[];
  services: ServiceEntry[];
  /** Control-side inputs (secret values) read once at load; planners look them up, never read them. */
  control?: ControlInputs;
  /** Non-fatal findings (literal secrets, ignored settings, YAML warnings), positioned. */
  warnings: Diagnostic[];
  /** Position of a document path such as ['hosts', 'lb1', 'nics', 0, 'match'] (nearest existing node). */
  positionOf(path: ReadonlyArray<string | number>): SourcePosition;
  /**
   * Position of a resolved host's value, e.g. ('lb1', ['nics', 0, 'name']): where it was written —
   * the host entry, a group's vars or defaults.
   */
  positionOfHostValue(host: string, path: ReadonlyArray<string | number>): SourcePosition;
}
