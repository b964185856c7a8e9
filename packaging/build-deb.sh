#!/usr/bin/env bash
# Builds the Debian package of Ferryman from the workspace: target/debian/ferryman_VERSION_ARCH.deb
# (dpkg-deb, no other packaging tool). The binary is `cargo build --release -p ferryman`'s, or
# the one given with --binary (the tests package their debug build).
#
#   packaging/build-deb.sh [--binary PATH] [--out DIR] [--fast]
#
# The binary is packaged stripped of its debug information (as Debian ships binaries);
# --fast compresses with gzip -1 instead of xz (the tests' package).
#
# The package holds /usr/bin/ferryman, the systemd units (ferryman-manager.service,
# ferryman-agent@.service), the documentation and examples (configuration, Prometheus alerting
# rules, the agent's sudoers rule) under /usr/share/doc/ferryman, and maintainer scripts that
# create the `ferryman` system user and /etc/ferryman. Nothing is started at installation: the
# configuration comes first (README.md, "Deploying on real hosts").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
binary=""
out="$root/target/debian"
compress=(-Zxz)
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --fast) compress=(-Zgzip -z1); shift ;;
    *) echo "build-deb: unknown argument $1 (use --binary PATH, --out DIR, --fast)" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  (cd "$root" && cargo build --release -p ferryman)
  binary="$root/target/release/ferryman"
fi
[ -x "$binary" ] || { echo "build-deb: $binary is not an executable: build it first" >&2; exit 1; }

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
arch="$(dpkg --print-architecture)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

install -D -m 0755 "$binary" "$stage/usr/bin/ferryman"
strip --strip-debug "$stage/usr/bin/ferryman"
install -D -m 0644 "$root/packaging/systemd/ferryman-manager.service" "$stage/lib/systemd/system/ferryman-manager.service"
install -D -m 0644 "$root/packaging/systemd/ferryman-agent@.service" "$stage/lib/systemd/system/ferryman-agent@.service"
doc="$stage/usr/share/doc/ferryman"
install -D -m 0644 "$root/README.md" "$doc/README.md"
install -D -m 0644 "$root/ARCHITECTURE.md" "$doc/ARCHITECTURE.md"
install -D -m 0644 "$root/config/ferryman.example.toml" "$doc/examples/ferryman.example.toml"
install -D -m 0644 "$root/config/prometheus-alerts.yml" "$doc/examples/prometheus-alerts.yml"
install -D -m 0644 "$root/packaging/debian/sudoers-ferryman-agent" "$doc/examples/sudoers-ferryman-agent"
cat > "$doc/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ferryman
Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPY

mkdir -p "$stage/DEBIAN"
size="$(du -sk "$stage" | cut -f1)"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: ferryman
Version: $version
Architecture: $arch
Maintainer: Ferryman developers <ferryman@localhost>
Installed-Size: $size
Depends: libc6, adduser
Recommends: mariadb-client, mariadb-backup, zstd
Suggests: mydumper, socat
Section: database
Priority: optional
Homepage: https://github.com/ferryman/ferryman
Description: backups, verification and reseeds for MariaDB and MySQL fleets
 Ferryman takes backups on schedule from every database node and streams them to a
 central manager, proves that each backup restores, rebuilds replicas, archives binary
 logs for point-in-time recovery, and tells DBAs by mail, webhook, Prometheus metrics and a
 web dashboard when something fails.
CONTROL
install -m 0755 "$root/packaging/debian/postinst" "$stage/DEBIAN/postinst"
install -m 0755 "$root/packaging/debian/postrm" "$stage/DEBIAN/postrm"

mkdir -p "$out"
deb="$out/ferryman_${version}_${arch}.deb"
dpkg-deb --root-owner-group "${compress[@]}" --build "$stage" "$deb" >/dev/null
echo "$deb"
