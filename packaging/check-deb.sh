#!/usr/bin/env bash
# Checks the built package as CI does: its contents, the desktop file and AppStream
# metadata, that it installs, that the installed binary runs and its `serve` answers
# /healthz, and that it uninstalls. Needs root (or sudo) for dpkg.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
deb=$(ls -t target/debian/fleetdash_*.deb | head -1)
echo "package: $deb ($(du -h "$deb" | cut -f1))"
contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/fleetdash ./usr/share/applications/fleetdash.desktop \
    ./usr/share/metainfo/io.github.fleetdash.fleetdash.metainfo.xml \
    ./usr/lib/systemd/system/fleetdash.service \
    ./usr/share/icons/hicolor/scalable/apps/fleetdash.svg \
    ./usr/share/icons/hicolor/256x256/apps/fleetdash.png \
    ./usr/share/icons/hicolor/48x48/apps/fleetdash.png; do
    grep -q " $path\$" <<<"$contents" || { echo "missing from the package: $path" >&2; exit 1; }
done
desktop-file-validate packaging/linux/fleetdash.desktop
appstreamcli validate --no-net packaging/linux/io.github.fleetdash.fleetdash.metainfo.xml
as_root dpkg -i "$deb"
/usr/bin/fleetdash --version
# systemd only warns (exit 0) about a line it can't read: any output fails the check.
if command -v systemd-analyze >/dev/null; then
    verify=$(systemd-analyze verify /usr/lib/systemd/system/fleetdash.service 2>&1) || true
    [ -z "$verify" ] || { echo "the unit does not verify: $verify" >&2; exit 1; }
fi
db=$(mktemp -d)/fleet.sqlite3
log=$(mktemp)
SMARTCAR_MANAGEMENT_TOKEN=package-check FLEETDASH_DB=$db /usr/bin/fleetdash serve --listen 127.0.0.1:0 >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
address=$(grep -o "http://127.0.0.1:[0-9]*" "$log" | head -1)
[ -n "$address" ] || { cat "$log" >&2; exit 1; }
curl -fsS "$address/healthz"
kill -TERM "$server"; wait "$server"
as_root dpkg -r fleetdash
[ ! -e /usr/bin/fleetdash ] || { echo "uninstall left /usr/bin/fleetdash" >&2; exit 1; }
echo "package check passed"
