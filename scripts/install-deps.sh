#!/usr/bin/env bash
# Installs, from Debian's packages, every program Ferryman's tests, demo and benchmarks call.
# Idempotent: packages already present are left alone and nothing is downloaded again.
# The system's own MariaDB service is neither needed nor started: the sandbox runs its own servers.
set -euo pipefail

packages=(
  mariadb-server mariadb-client mariadb-backup galera-4   # servers, clients, physical backups, Galera
  socat rsync                                              # legacy donor streams, Galera SST
  sysbench mydumper restic                                 # sandbox load, logical dumps, archive
  ca-certificates pkg-config                               # builds of crates that link system libs
  jq curl iproute2 zstd                                    # bench/ scripts (JSON, health checks, ss, zstd -d)
  age                                                      # tests: an encrypted backup restored by hand (age -d)
  ceph-mon ceph-osd radosgw                                # the tests' S3 server (Ceph radosgw, testing::TestS3)
  python3-aiosmtpd                                         # the notification tests' SMTP server
  prometheus                                               # the metrics test: a real Prometheus scrapes the manager
  chromium chromium-driver                                 # the dashboard test: headless Chromium through WebDriver
  systemd binutils                                         # the package test: systemd-analyze verify, strip
  openssh-client openssh-server                            # onpremise-ssh: the manager's ssh; the tests' sshd (testing::TestSshd)
  btrfs-progs                                              # snapshot-method = "btrfs"; the snapshot tests (a btrfs loop device)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run this script as root (apt-get needs it)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep the Debian MariaDB service from starting during installation: no systemd here, and the
# sandbox never uses it. policy-rc.d answers 101 ("action forbidden") to invoke-rc.d.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  created_policy=1
fi
cleanup() { [ "$created_policy" -eq 1 ] && rm -f "$policy"; return 0; }
trap cleanup EXIT

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
