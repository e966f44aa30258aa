#!/usr/bin/env bash
# Builds the Debian package of ycs (npm run package:deb [-- OUTDIR]): the compiled programs
# with their production node_modules and the native addon built for this machine under
# /usr/lib/ycs, /usr/bin/{ycs,ycsm,ycsctl}, the systemd unit, /etc/ycs with an example
# config, /var/lib/ycs, and a `ycs` group for the control socket (created by postinst).
# Run after `npm run build`. Prints the path of the .deb.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-$PWD/out}"
version="$(node -p "require('./package.json').version")"
arch="$(dpkg --print-architecture)"
for f in dist/src/daemon/main.js build/Release/ycs_native.node; do
  [ -f "$f" ] || { echo "E_USAGE: $f is missing: run npm run build first" >&2; exit 2; }
done
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/ycs_${version}_${arch}"
lib="$root/usr/lib/ycs"
mkdir -p "$lib/build/Release" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/ycs" "$root/var/lib/ycs" "$root/DEBIAN"
cp package.json package-lock.json "$lib/"
cp -r dist/src "$lib/dist-src"
mkdir -p "$lib/dist" && mv "$lib/dist-src" "$lib/dist/src"
cp -r dist/scripts "$lib/dist/scripts" 2>/dev/null || true
cp build/Release/ycs_native.node "$lib/build/Release/"
cp -r packaging/agents "$lib/agents"
# Production dependencies only; the addon is already built (no install scripts).
(cd "$lib" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
for prog in ycs:daemon ycsm:monitor ycsctl:cli; do
  name="${prog%%:*}"; dir="${prog##*:}"
  printf '#!/bin/sh\nexec /usr/bin/node /usr/lib/ycs/dist/src/%s/main.js "$@"\n' "$dir" > "$root/usr/bin/$name"
  chmod 755 "$root/usr/bin/$name"
done
cp packaging/ycsm.service "$root/lib/systemd/system/ycsm.service"
sed -i 's#Documentation=file:///usr/lib/node_modules/ycs/docs/ycsm.md#Documentation=https://github.com/ycs/ycs/blob/main/docs/ycsm.md#' "$root/lib/systemd/system/ycsm.service"
cp packaging/etc/ycs.json.example "$root/etc/ycs/ycs.json.example"
size="$(du -sk "$root" | cut -f1)"
cat > "$root/DEBIAN/control" <<CONTROL
Package: ycs
Version: ${version}
Architecture: ${arch}
Maintainer: ycs developers <ycs@localhost>
Installed-Size: ${size}
Depends: nodejs (>= 20), libiscsi7, liburing2
Recommends: tgt, etcd-client
Section: admin
Priority: optional
Description: high-availability cluster service for primary/standby databases
 ycsm starts and watches ycs, which keeps exactly one primary per database
 with disk heartbeats, Disk Paxos or an etcd lease, and SCSI-3 PR fencing.
 ycsctl is the front end.
CONTROL
echo "/etc/ycs/ycs.json.example" > "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  getent group ycs >/dev/null || groupadd --system ycs
  install -d -m 0750 -g ycs /var/lib/ycs
  if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
POSTINST
cat > "$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ "$1" = purge ]; then rm -rf /var/lib/ycs; fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
POSTRM
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
mkdir -p "$out"
dpkg-deb --build --root-owner-group "$root" "$out/ycs_${version}_${arch}.deb" >/dev/null
echo "$out/ycs_${version}_${arch}.deb"
