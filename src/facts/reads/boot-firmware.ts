/**
 * How a host boots, as the kernel-cmdline task and KERNEL-004 need it, from listings (the probe
 * shell's own globs, no process):
 *  - efi: /sys/firmware/efi exists (booted by EFI);
 *  - efiVendors: the directories under /boot/efi/EFI (`BOOT` included), [] when there is none;
 *  - acpiTables: the firmware's ACPI tables (/sys/firmware/acpi/tables: DMAR for Intel VT-d, IVRS
 *    for AMD-Vi), null when there is no such directory (not x86 ACPI: cannot tell).
 *
 *   { efi: false, efiVendors: [], acpiTables: ['APIC', 'DMAR', 'DSDT', 'FACP'] }
 */
import { z } from 'zod';
import { factReader, lines, ok } from '../read.js';

export const BOOT_KEYS = {
  efi: 'kernel-cmdline:efi',
  efiVendors: 'kernel-cmdline:efi-vendors',
  acpiTables: 'kernel-cmdline:acpi-tables',
} as const;

export const bootFirmwareSchema = z.object({
  efi: z.boolean(),
  efiVendors: z.array(z.string()),
  acpiTables: z.array(z.string()).nullable(),
});
export type BootFirmware = z.infer<typeof bootFirmwareSchema>;

/** The ACPI tables alone (the preflight check asks for them only when the IOMMU is to be turned on). */
export const acpiTables = factReader<string[] | null>({
  name: 'ACPI tables (/sys/firmware/acpi/tables)',
  keys: [BOOT_KEYS.acpiTables],
  schema: z.array(z.string()).nullable(),
  request: () => ({ listings: { [BOOT_KEYS.acpiTables]: { dir: '/sys/firmware/acpi/tables' } } }),
  parse: (raw) => {
    const t = raw(BOOT_KEYS.acpiTables);
    return ok(t) ? lines(t.stdout) : null;
  },
});

export const bootFirmware = factReader<BootFirmware>({
  name: 'boot firmware (/sys/firmware/efi, /boot/efi/EFI, ACPI tables)',
  keys: Object.values(BOOT_KEYS),
  schema: bootFirmwareSchema,
  request: () => ({
    listings: {
      [BOOT_KEYS.efi]: { dir: '/sys/firmware/efi' },
      [BOOT_KEYS.efiVendors]: { dir: '/boot/efi/EFI' },
    },
    ...acpiTables.request(),
  }),
  parse: (raw) => {
    const v = raw(BOOT_KEYS.efiVendors);
    return {
      efi: raw(BOOT_KEYS.efi)?.code === 0,
      efiVendors: ok(v) ? lines(v.stdout) : [],
      acpiTables: acpiTables.parse(raw),
    };
  },
});
