#!/usr/bin/env bash
# Installs the Debian packages ycs needs to build and to run its tests:
#   g++/make/python3  native addon (node-gyp)
#   libiscsi-dev      userspace iSCSI initiator (iscsi:// devices, persistent reservations)
#   liburing-dev      io_uring: sector I/O submitted from the event loop without blocking it
#   tgt               iSCSI target for the fencing tests (tgtd on 127.0.0.1)
#   istgt             a second, independent iSCSI target the fencing path is checked against
#   fio               reference I/O figures in the disk benchmark
#   bindfs fuse3      a FUSE file system the tests stop with SIGSTOP to hang a loop device
#   iproute2 nftables network namespaces and partitions in the integration tests
#   etcd              the lease backend (etcd mode)
#   haproxy           a real load balancer checking the health endpoints (GET /primary)
#   curl              the operator's view of /metrics in the docs and tests
#   chromium          headless browser for the live topology page test
#   sg3-utils strace  sg_persist's CDBs and its SG_IO ioctl, the reference for ycs's bytes
#   stress-ng         CPU, memory and fsync load for the soak (npm run soak, test/integration/soak)
set -euo pipefail
packages=(g++ make python3 libiscsi-dev liburing-dev libiscsi-bin tgt istgt fio bindfs fuse3 sg3-utils
          iproute2 nftables util-linux etcd-server etcd-client haproxy curl chromium strace stress-ng)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
modprobe loop 2>/dev/null || true
