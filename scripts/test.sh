#!/usr/bin/env bash
# Set up this machine (scripts/setup.sh, quick when already done) and run every test tier:
#   1. unit tests (pytest, no hypervisor), on both ansible-core majors
#   2. ansible-lint (production profile) and the changelog lint
#   3. ansible-test sanity for ansible-core 2.19 (Python 3.11) and 2.21 (Python 3.12)
#   4. the collection builds into a tarball that installs and that ansible-doc reads
#   5. end-to-end: ansible-test integration targets that build, boot and check real guests
#
#   scripts/test.sh                 # everything
#   scripts/test.sh unit lint       # only the named tiers (unit lint sanity build e2e)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(unit lint sanity build e2e)
"$here/setup.sh"

results=()
run_tier() {  # run_tier NAME COMMAND...: run, time, and remember the outcome of one tier
    local name=$1 start rc=0
    shift
    echo "== test: $name"
    start=$(date +%s)
    "$@" || rc=$?
    results+=("$(printf '%-34s %s (%ds)' "$name" "$([ $rc = 0 ] && echo passed || echo FAILED)" $(($(date +%s) - start)))")
    [ $rc = 0 ] || failed=1
}

in_core() {  # in_core CORE COMMAND...: run with that ansible-core's environment
    local core=$1
    shift
    (. "$here/env.sh" "$core" && cd "$top" && "$@")
}

tier_unit() {
    run_tier "unit (ansible-core 2.19)" in_core 2.19 python -m pytest -q tests/unit
    run_tier "unit (ansible-core 2.21)" in_core 2.21 python -m pytest -q tests/unit
}

tier_lint() {
    run_tier "ansible-lint (production)" in_core 2.19 ansible-lint --offline
    run_tier "changelog lint" in_core 2.19 antsibull-changelog lint
}

tier_sanity() {
    run_tier "sanity (ansible-core 2.19)" "$here/ansible-test.sh" --core 2.19 sanity --python 3.11 --color no
    run_tier "sanity (ansible-core 2.21)" "$here/ansible-test.sh" --core 2.21 sanity --python 3.12 --color no
}

tier_build() {
    run_tier "collection build and install" in_core 2.19 "$here/check-build.sh"
}

tier_e2e() {
    local target
    for target in kvm_auto_image kvm_auto_vm range; do
        run_tier "e2e $target" "$here/ansible-test.sh" --core 2.19 integration --local --python 3.11 \
            --allow-destructive --allow-root --color no "$target"
    done
}

failed=0
for tier in "${tiers[@]}"; do
    declare -F "tier_$tier" >/dev/null || { echo "unknown tier $tier (unit lint sanity build e2e)" >&2; exit 2; }
    "tier_$tier"
done
echo "== test: summary"
printf '%s\n' "${results[@]}"
npass=$(printf '%s\n' "${results[@]}" | grep -c ' passed ' || true)
nfail=$(printf '%s\n' "${results[@]}" | grep -c ' FAILED ' || true)
echo "tiers: $npass passed, $nfail failed"
exit $failed
