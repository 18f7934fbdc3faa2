/** NIC models dpvs-deploy knows, by PCI vendor:device, with what limits DPVS on them. */

export type NicLimit =
  /** full support: RSS and rte_flow (multi-worker FullNAT/SNAT) */
  | 'none'
  /** RSS but no rte_flow: FullNAT/SNAT with one worker, or conn redirect */
  | 'no-rte-flow'
  /** no RSS: one rx queue only (virtio-net, e1000) */
  | 'single-queue'
  /** bifurcated driver: the NIC stays on its kernel driver and must never be bound */
  | 'bifurcated';

export interface NicModel {
  vendor: string;
  /** device id, or '*' for every device of the vendor */
  device: string;
  name: string;
  /** the DPDK PMD (net_*) */
  pmd: string;
  limit: NicLimit;
}

export const NIC_MODELS: readonly NicModel[] = [
  { vendor: '8086', device: '10fb', name: 'Intel 82599 10G', pmd: 'ixgbe', limit: 'none' },
  { vendor: '8086', device: '154d', name: 'Intel 82599 10G SF2', pmd: 'ixgbe', limit: 'none' },
  { vendor: '8086', device: '1528', name: 'Intel X540 10G', pmd: 'ixgbe', limit: 'none' },
  { vendor: '8086', device: '1563', name: 'Intel X550 10G', pmd: 'ixgbe', limit: 'none' },
  { vendor: '8086', device: '1572', name: 'Intel X710 10G', pmd: 'i40e', limit: 'none' },
  { vendor: '8086', device: '1583', name: 'Intel XL710 40G', pmd: 'i40e', limit: 'none' },
  { vendor: '8086', device: '158b', name: 'Intel XXV710 25G', pmd: 'i40e', limit: 'none' },
  { vendor: '8086', device: '1521', name: 'Intel I350 1G', pmd: 'igb', limit: 'no-rte-flow' },
  { vendor: '15ad', device: '07b0', name: 'VMware vmxnet3', pmd: 'vmxnet3', limit: 'no-rte-flow' },
  { vendor: '1af4', device: '1000', name: 'virtio-net (legacy)', pmd: 'virtio', limit: 'single-queue' },
  { vendor: '1af4', device: '1041', name: 'virtio-net (modern)', pmd: 'virtio', limit: 'single-queue' },
  { vendor: '8086', device: '100e', name: 'Intel 82540EM e1000', pmd: 'e1000', limit: 'single-queue' },
  { vendor: '8086', device: '100f', name: 'Intel 82545EM e1000', pmd: 'e1000', limit: 'single-queue' },
  { vendor: '15b3', device: '*', name: 'Mellanox/NVIDIA ConnectX (mlx5)', pmd: 'mlx5', limit: 'bifurcated' },
];

export function nicModel(vendor: string, device: string): NicModel | null {
  const v = vendor.toLowerCase();
  const d = device.toLowerCase();
  return (
    NIC_MODELS.find((m) => m.vendor === v && m.device === d) ??
    NIC_MODELS.find((m) => m.vendor === v && m.device === '*') ??
    null
  );
}
