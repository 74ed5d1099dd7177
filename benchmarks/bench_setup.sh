#!/usr/bin/env bash
# How long scripts/setup.sh takes, cold and warm, step by step.
# Cold: a new, empty cache directory (Python environments and the template repository are made
# from scratch; system packages already installed stay installed, since removing them would
# break the host). Warm: the same command again.
#   benchmarks/bench_setup.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cold=$(mktemp -d /var/tmp/kvm-auto-bench-setup.XXXXXX)
trap 'rm -rf "$cold"' EXIT
export KVM_AUTO_CACHE="$cold/cache" KVM_AUTO_TEMPLATE_REPO="$cold/templates"
summary() { sed -n '/^== setup: done/,$p' "$1" | tail -n +2; }
echo "== cold (empty cache: $cold)"
start=$(date +%s)
"$top/scripts/setup.sh" > "$cold/cold.log" 2>&1 || { tail -30 "$cold/cold.log"; exit 1; }
cold_total=$(($(date +%s) - start))
summary "$cold/cold.log"
echo "== warm (same cache)"
start=$(date +%s)
"$top/scripts/setup.sh" > "$cold/warm.log" 2>&1 || { tail -30 "$cold/warm.log"; exit 1; }
warm_total=$(($(date +%s) - start))
summary "$cold/warm.log"
echo "setup total: cold ${cold_total} s, warm ${warm_total} s"
