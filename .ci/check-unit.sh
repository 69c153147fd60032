#!/usr/bin/env bash
# Offline checks of the systemd unit: `verify` must print nothing, `security` must score <= threshold.
set -euo pipefail
cd "$(dirname "$0")/.."
unit=systemd/btf-extrad.service
[ -f "$unit" ] || { echo "check-unit: $unit not present yet, skipped"; exit 0; }
threshold=$(cat systemd/security-threshold 2>/dev/null || echo 5.0)
out=$(systemd-analyze verify --man=no "$unit" 2>&1 || true)
if [ -n "$out" ]; then echo "systemd-analyze verify:"; echo "$out"; exit 1; fi
systemd-analyze security --offline=yes --threshold="$threshold" "$unit" >/dev/null
echo "check-unit: verify clean, security exposure within $threshold"
