/**
 * Writes one lab host's private directories (on the lab tmpfs) before its PID 1 starts: the overlay
 * upper layers with /etc/ssh/sshd_config, its host key, users deploy and nosudo, /etc/hosts and the
 * OS identity files; /root, /home and the init.env and mounts files that host-init.py reads.
 */
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LabHostProfile, LabOs } from './profile-types.js';
import type { FakeKernel } from './fakekernel-adapter.js';
import { LAB_BRIDGE_ADDRESS, LAB_PREFIX_LEN } from './profiles.js';
import { labGrubCmdline } from './fakekernel/tree.js';

export const DEPLOY_UID = 2001;
export const NOSUDO_UID = 2002;

/** What every host shares: the real account files to extend, the client public key, the hosts table. */
export interface HostFilesCommon {
  passwd: string;
  group: string;
  shadow: string;
  clientPublicKey: string;
  etcHosts: string;
}

export async function readHostFilesCommon(
  clientPublicKey: string,
  profiles: LabHostProfile[],
): Promise<HostFilesCommon> {
  const [passwd, group, shadow] = await Promise.all(
    ['/etc/passwd', '/etc/group', '/etc/shadow'].map((f) => readFile(f, 'utf8')),
  );
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `${LAB_BRIDGE_ADDRESS}\tlab-fixtures`,
    ...profiles.map((p) => `${p.address}\t${p.name}`),
  ];
  return {
    passwd: passwd as string,
    group: group as string,
    shadow: shadow as string,
    clientPublicKey,
    etcHosts: lines.join('\n') + '\n',
  };
}

export const SSHD_CONFIG = `# lab host sshd (written by test/lab/host-files.ts)
Port 22
ListenAddress 0.0.0.0
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PidFile none
PrintMotd no
MaxStartups 200:30:400
MaxSessions 64
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
`;

/**
 * /etc/default/grub as Debian's grub2-common 2.06-13+deb12u2 installs it (usr/share/grub/default/grub),
 * with the host's first-boot arguments in GRUB_CMDLINE_LINUX. Every lab host gets it (the lab's
 * bootloader stand-ins are GRUB's: update-grub, grub-mkconfig).
 */
export function labGrubDefault(cmdlineLinux: string): string {
  return `# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
# For full documentation of the options in this file, see:
#   info -f grub -n 'Simple configuration'

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=\`lsb_release -i -s 2> /dev/null || echo Debian\`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="${cmdlineLinux}"

# If your computer has multiple operating systems installed, then you
# probably want to run os-prober. However, if your computer is a host
# for guest OSes installed via LVM or raw disk devices, running
# os-prober can cause damage to those guest OSes as it mounts
# filesystems to look for things.
GRUB_DISABLE_OS_PROBER=true

# Uncomment to enable BadRAM filtering, modify to suit your needs
# This works with Linux (no patch required) and with any kernel that obtains
# the memory map information from GRUB (GNU Mach, kernel of FreeBSD ...)
#GRUB_BADRAM="0x01234567,0xfefefefe,0x89abcdef,0xefefefef"

# Uncomment to disable graphical terminal
#GRUB_TERMINAL=console

# The resolution used on graphical terminal
# note that you can use only modes which your graphic card supports via VBE
# you can see them in real GRUB with the command \`vbeinfo'
#GRUB_GFXMODE=640x480

# Uncomment if you don't want GRUB to pass "root=UUID=xxx" parameter to Linux
#GRUB_DISABLE_LINUX_UUID=true

# Uncomment to disable generation of recovery mode menu entries
#GRUB_DISABLE_RECOVERY="true"

# Uncomment to get a beep at grub start
#GRUB_INIT_TUNE="480 440 1"
`;
}

interface OsIdentity {
  files: Record<string, string>;
}

function osIdentity(os: LabOs): OsIdentity {
  switch (os) {
    case 'debian12':
      return {
        files: {
          'os-release':
            'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
          debian_version: '12.5\n',
        },
      };
    case 'ubuntu22':
      return {
        files: {
          'os-release':
            'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n',
          debian_version: 'bookworm/sid\n',
          'lsb-release':
            'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION="Ubuntu 22.04.4 LTS"\n',
        },
      };
    case 'rocky9':
      return {
        files: {
          'os-release':
            'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPLATFORM_ID="platform:el9"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n',
          'redhat-release': 'Rocky Linux release 9.3 (Blue Onyx)\n',
          'rocky-release': 'Rocky Linux release 9.3 (Blue Onyx)\n',
        },
      };
    case 'centos7':
      return {
        files: {
          'os-release':
            'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7 (Core)"\n',
          'redhat-release': 'CentOS Linux release 7.9.2009 (Core)\n',
          'centos-release': 'CentOS Linux release 7.9.2009 (Core)\n',
        },
      };
  }
}

async function put(path: string, content: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content, { mode });
  await chmod(path, mode); // writeFile's mode is masked by the umask
}

async function userHome(homeRoot: string, user: string, uid: number, key: string): Promise<void> {
  const home = join(homeRoot, user);
  await put(join(home, '.ssh', 'authorized_keys'), key + '\n', 0o600);
  await chmod(join(home, '.ssh'), 0o700);
  for (const p of [home, join(home, '.ssh'), join(home, '.ssh', 'authorized_keys')]) await chown(p, uid, uid);
}

export interface HostFilesInput {
  hostDir: string;
  fakeStateDir: string;
  fakeRoot: string;
  profile: LabHostProfile;
  hostKey: { privateKey: string; publicKey: string };
  common: HostFilesCommon;
  fake: FakeKernel;
}

export async function writeHostFiles(i: HostFilesInput): Promise<void> {
  const { hostDir, profile: p, common } = i;
  const etc = join(hostDir, 'upper', 'etc');
  await Promise.all(
    ['upper/usr', 'upper/var', 'work/usr', 'work/etc', 'work/var', 'opt', 'tmp'].map((d) =>
      mkdir(join(hostDir, d), { recursive: true }),
    ),
  );
  const os = osIdentity(p.os);
  const mounts = i.fake.hostMounts(p).map((m) => `${m.kind} ${m.source} ${m.target}`);
  const env = {
    HOST: p.name,
    ADDRESS: p.address,
    PREFIXLEN: String(LAB_PREFIX_LEN),
    FAKE_ROOT: join(i.fakeRoot, p.name),
    REAL_HUGEPAGES: p.hugepages === 'real' ? '1' : '0',
    IPV6: p.ipv6 ? '1' : '0',
    SYMLINK_HELPER: i.fake.symlinkHelper ?? '/bin/false',
  };
  const envText = Object.entries(env)
    .map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join('\n');
  await Promise.all([
    put(join(hostDir, 'init.env'), envText + '\n'),
    put(join(hostDir, 'mounts'), mounts.join('\n') + '\n'),
    put(join(etc, 'ssh', 'sshd_config'), SSHD_CONFIG),
    put(join(etc, 'ssh', 'ssh_host_ed25519_key'), i.hostKey.privateKey, 0o600),
    put(join(etc, 'ssh', 'ssh_host_ed25519_key.pub'), i.hostKey.publicKey + '\n'),
    put(join(etc, 'hostname'), p.name + '\n'),
    put(join(etc, 'default', 'grub'), labGrubDefault(labGrubCmdline(p))),
    put(join(hostDir, 'boot', `vmlinuz-${p.kernel}`), ''),
    put(join(etc, 'hosts'), common.etcHosts),
    put(
      join(etc, 'passwd'),
      common.passwd +
        `deploy:x:${DEPLOY_UID}:${DEPLOY_UID}:lab deploy user:/home/deploy:/bin/bash\n` +
        `nosudo:x:${NOSUDO_UID}:${NOSUDO_UID}:lab user without sudo:/home/nosudo:/bin/bash\n`,
    ),
    put(join(etc, 'group'), common.group + `deploy:x:${DEPLOY_UID}:\nnosudo:x:${NOSUDO_UID}:\n`),
    put(
      join(etc, 'shadow'),
      common.shadow + 'deploy:*:19700:0:99999:7:::\nnosudo:*:19700:0:99999:7:::\n',
      0o640,
    ),
    put(join(etc, 'sudoers.d', 'lab-deploy'), 'deploy ALL=(ALL:ALL) NOPASSWD: ALL\n', 0o440),
    ...Object.entries(os.files).map(([f, c]) => put(join(etc, f), c)),
    put(join(hostDir, 'root', '.ssh', 'authorized_keys'), common.clientPublicKey + '\n', 0o600).then(() =>
      Promise.all([chmod(join(hostDir, 'root'), 0o700), chmod(join(hostDir, 'root', '.ssh'), 0o700)]),
    ),
    userHome(join(hostDir, 'home'), 'deploy', DEPLOY_UID, common.clientPublicKey),
    userHome(join(hostDir, 'home'), 'nosudo', NOSUDO_UID, common.clientPublicKey),
    i.fake.writeHostTree(i.fakeStateDir, p),
    i.fake.installHostBin(join(hostDir, 'upper', 'usr', 'local'), p, join(hostDir, 'upper', 'usr')),
  ]);
  await chown(join(etc, 'shadow'), 0, 42).catch(() => undefined); // group shadow where it exists
}
