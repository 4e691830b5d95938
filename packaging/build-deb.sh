#!/usr/bin/env bash
# Builds target/debian/sluice_<version>_<arch>.deb: both binaries (release),
# the systemd unit, an example configuration under /etc/sluice.
#   cargo install cargo-deb   # once
#   bash packaging/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb > /dev/null || { echo "cargo-deb not found: cargo install cargo-deb" >&2; exit 2; }
cargo build --release --locked -p sluice-proxy -p sluice-scan
cargo deb --no-build -p sluice-proxy "$@"
