/**
 * What a fake NIC looks like on the PCI bus: the 64-byte type-0 config header (so the real lspci
 * decodes vendor, device, class, revision and subsystem), and the sysfs attribute values.
 */
import type { LabNic } from '../profile-types.js';

/** Subsystem IDs per vendor:device, taken from real cards listed in pci.ids. */
const SUBSYSTEMS: Record<string, [string, string]> = {
  '8086:10fb': ['8086', '0003'], // Ethernet Server Adapter X520-2
  '8086:1572': ['8086', '0001'],
  '15b3:1017': ['15b3', '0007'], // Mellanox ConnectX-5 MCX516A-CCAT
  '1af4:1000': ['1af4', '0001'],
};

export const NET_CLASS = 0x020000;

export function subsystemOf(nic: LabNic): [string, string] {
  return SUBSYSTEMS[`${nic.vendor}:${nic.device}`] ?? [nic.vendor, '0000'];
}

/** True when another function of the same slot exists (header type gets the multi-function bit). */
export function isMultiFunction(nic: LabNic, all: LabNic[]): boolean {
  const slot = nic.pci.slice(0, -2);
  return all.some((n) => n !== nic && n.pci.slice(0, -2) === slot);
}

export function pciConfig(nic: LabNic, multiFunction: boolean): Buffer {
  const b = Buffer.alloc(64);
  const [sv, sd] = subsystemOf(nic);
  b.writeUInt16LE(parseInt(nic.vendor, 16), 0x00);
  b.writeUInt16LE(parseInt(nic.device, 16), 0x02);
  b.writeUInt16LE(0x0406, 0x04); // command: memory space, bus master, INTx disable
  b.writeUInt16LE(0x0000, 0x06); // status: no capability list
  b.writeUInt8(0x01, 0x08); // revision
  b.writeUInt8(NET_CLASS & 0xff, 0x09); // prog-if
  b.writeUInt8((NET_CLASS >> 8) & 0xff, 0x0a); // subclass: ethernet
  b.writeUInt8((NET_CLASS >> 16) & 0xff, 0x0b); // class: network
  b.writeUInt8(0x10, 0x0c); // cache line size
  b.writeUInt8(multiFunction ? 0x80 : 0x00, 0x0e); // header type 0
  const devfn = parseInt(nic.pci.slice(8, 10), 16) * 8 + parseInt(nic.pci.slice(11), 16);
  b.writeUInt32LE(0xe0000000 + devfn * 0x80000, 0x10); // BAR0: 512 KiB of 32-bit memory per function
  b.writeUInt16LE(parseInt(sv, 16), 0x2c);
  b.writeUInt16LE(parseInt(sd, 16), 0x2e);
  b.writeUInt8(11, 0x3c); // interrupt line
  b.writeUInt8(1, 0x3d); // interrupt pin INTA
  return b;
}

export function modalias(nic: LabNic): string {
  const [sv, sd] = subsystemOf(nic);
  const h = (s: string): string => s.toUpperCase().padStart(8, '0');
  return `pci:v${h(nic.vendor)}d${h(nic.device)}sv${h(sv)}sd${h(sd)}bc02sc00i00`;
}
