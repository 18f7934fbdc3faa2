/**
 * The systemd unit dpvs runs under, with placeholders that src/dpvsconf/unit.ts fills (each line holding
 * a placeholder is dropped when its value is empty). Kept in code, not read from a file, so rendering
 * the unit stays a pure function.
 */
export const DPVS_UNIT_TEMPLATE = `# {{MANAGED}}
# DPVS runs in the foreground (it has no daemon mode); systemd supervises it.
[Unit]
Description=DPVS layer-4 load balancer (DPDK)
Documentation=https://github.com/iqiyi/dpvs
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
{{ENVIRONMENT}}
ExecStart={{EXEC_START}}
{{EXEC_START_POST}}
Restart=on-failure
RestartSec=5
TimeoutStartSec={{START_TIMEOUT_S}}
LimitNOFILE={{NOFILE}}
LimitMEMLOCK=infinity

[Install]
WantedBy=multi-user.target
`;
