#!/usr/bin/env bash
# Builds target/debian/fleetdash_VERSION_ARCH.deb (release profile: LTO, stripped) from the
# [package.metadata.deb] section of Cargo.toml. Installs cargo-deb first when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deb --version >/dev/null 2>&1; then
    cargo install cargo-deb --locked --version "^3"
fi
cargo deb --locked "$@"
ls -l target/debian/*.deb
