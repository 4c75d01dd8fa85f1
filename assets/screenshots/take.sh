#!/usr/bin/env bash
# Takes the README's screenshots of the real app (demo mode) under Xvfb.
# Needs: xvfb xauth imagemagick xdotool and Mesa (see ../../README.md, "Screenshots").
# Usage: assets/screenshots/take.sh [path/to/fleetdash]   (default: target/release/fleetdash)
set -euo pipefail
cd "$(dirname "$0")"
bin=$(realpath "${1:-../../target/release/fleetdash}")
display=:97
Xvfb $display -screen 0 1100x720x24 -nolisten tcp &
xvfb=$!
home=$(mktemp -d)
mkdir -p "$home"/{data,config,cache,run}
chmod 700 "$home/run"
cleanup() { kill "$app" "$xvfb" 2>/dev/null || true; rm -rf "$home"; }
trap cleanup EXIT
sleep 1
export DISPLAY=$display XDG_RUNTIME_DIR=$home/run XDG_DATA_HOME=$home/data \
  XDG_CONFIG_HOME=$home/config XDG_CACHE_HOME=$home/cache
"$bin" >"$home/app.log" 2>&1 &
app=$!
sleep 10
click() { xdotool mousemove "$1" "$2" click 1; sleep "${3:-2}"; }
# The pointer goes out of the way first, so no hover read-out covers the view.
shot() { xdotool mousemove 1095 715; sleep 0.5; import -window root "$1.png"; echo "wrote $1.png"; }
# The window opens at 1100x720 in the corner; the tabs sit at y=91 under the banner.
tab() { case $1 in fleet) click 30 91;; map) click 81 91;; analytics) click 144 91;;
  deliveries) click 222 91;; export) click 294 91;; account) click 361 91;;
  settings) click 432 91;; esac; }
for theme in dark light; do
  if [ $theme = light ]; then tab settings; click 206 466; fi
  tab fleet; shot "fleet-$theme"
  # The first vehicle's row, under the summary strip; then "Back to the fleet".
  click 66 231 3; shot "vehicle-$theme"; click 60 91
  # Select one vehicle for its trail (once: a second click would deselect it).
  tab map; if [ $theme = dark ]; then click 82 143 3; fi; shot "map-$theme"
  tab analytics; shot "analytics-$theme"
  tab deliveries; shot "deliveries-$theme"
  tab export; shot "export-$theme"
  tab account; shot "account-$theme"
  tab settings; shot "settings-$theme"
done
