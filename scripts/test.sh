#!/usr/bin/env bash
# Set up this machine (scripts/setup.sh, quick when already done) and run every test tier:
#   unit    unit tests (pytest, no hypervisor) on both ansible-core majors, and the scripts' tests
#   lint    ansible-lint (production profile), the changelog lint, antsibull-docs (plugin and
#           role docs) and the execution-environment metadata (ansible-builder)
#   sanity  ansible-test sanity for ansible-core 2.19 (Python 3.11) and 2.21 (Python 3.12)
#   build   the collection builds into a tarball that installs and that ansible-doc reads
#   e2e     ansible-test integration targets that build, boot and check real guests, the
#           molecule scenario of the kvm_auto_range role, and scripts/deploy-example.sh
#
# With e2e, the other tiers and the network module target run beside the module targets that
# build one image or boot one guest at a time (one busy core each); the range targets, which boot
# several guests at once, run alone.
#
#   scripts/test.sh                 # every tier (as root)
#   scripts/test.sh unit lint       # only the named tiers
#
# Only e2e needs the KVM host and the template repository, so only e2e sets them up (as root);
# the other tiers need just the Python side (scripts/setup.sh python) and, once root has made
# the venvs, run as any user.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(unit lint sanity build e2e)
setup_part=python
for tier in "${tiers[@]}"; do
    case $tier in
        unit | lint | sanity | build) ;;
        e2e) setup_part=all ;;
        *) echo "unknown tier $tier (unit lint sanity build e2e)" >&2; exit 2 ;;
    esac
done
if [ "$setup_part" = all ]; then "$here/setup.sh"; else "$here/setup.sh" python; fi
# shellcheck source=scripts/env.sh
lint_home=$(. "$here/env.sh" 2.19 && echo "$KVM_AUTO_WORK/lint-home")

# Each tier's outcome is a line of this file, so that tiers run in the background count too.
results_file=$(mktemp)
lane_log=$(mktemp)
trap 'rm -f "$results_file" "$lane_log"' EXIT
order=0
run_tier() {  # run_tier NAME CORE COMMAND...: run with that ansible-core's environment, time it, keep the outcome
    local name=$1 core=$2 start rc=0 place
    shift 2
    order=$((order + 1))
    place=$order
    echo "== test: $name"
    start=$(date +%s)
    # shellcheck source=scripts/env.sh
    (. "$here/env.sh" "$core" && cd "$top" && "$@") || rc=$?
    printf '%03d %-34s %s (%ds)\n' "$place" "$name" "$([ "$rc" = 0 ] && echo passed || echo FAILED)" \
        $(($(date +%s) - start)) >> "$results_file"
}

run_python_tier() {  # run_python_tier unit|lint|sanity|build
    case $1 in
        unit)
            run_tier "unit (ansible-core 2.19)" 2.19 python -m pytest -q tests/unit
            run_tier "unit (ansible-core 2.21)" 2.21 python -m pytest -q tests/unit
            # The scripts' own logic (KVM probe, env.sh's choice): no ansible-core involved.
            run_tier "script tests" 2.19 python -m pytest -q tests/scripts ;;
        lint)
            # ansible-lint installs the collection under ANSIBLE_HOME: a fresh one each run, so no
            # copy left from an earlier checkout shadows this one.
            rm -rf "$lint_home"
            run_tier "ansible-lint (production)" 2.19 env ANSIBLE_HOME="$lint_home" ansible-lint --offline
            run_tier "changelog lint" 2.19 antsibull-changelog lint
            # The docs as docs.ansible.com renders them: schema, semantic markup, and every
            # reference resolving (to this collection or ansible.builtin; any other is an error).
            run_tier "antsibull-docs lint" 2.19 antsibull-docs lint-collection-docs --plugin-docs \
                --validate-collection-refs dependent --disallow-unknown-collection-refs .
            run_tier "execution environment" 2.19 "$here/check-ee.sh" ;;
        sanity)
            run_tier "sanity (ansible-core 2.19)" 2.19 "$here/ansible-test.sh" --core 2.19 sanity --python 3.11 --color no
            run_tier "sanity (ansible-core 2.21)" 2.21 "$here/ansible-test.sh" --core 2.21 sanity --python 3.12 --color no ;;
        build)
            run_tier "collection build and install" 2.19 "$here/check-build.sh" ;;
    esac
}

run_e2e_target() {  # run_e2e_target TARGET: one ansible-test integration target
    run_tier "e2e $1" 2.19 "$here/ansible-test.sh" --core 2.19 integration --local \
        --python 3.11 --allow-destructive --allow-root --color no "$1"
}

python_tiers=()
with_e2e=false
for tier in "${tiers[@]}"; do
    if [ "$tier" = e2e ]; then with_e2e=true; else python_tiers+=("$tier"); fi
done

if [ "$with_e2e" = true ]; then
    # The module targets build images and boot one guest at a time: each keeps one core busy.
    # The Python tiers and the network target run beside them on the other core, their output
    # held back until they end so that the two lanes do not interleave.
    echo "== test: ${python_tiers[*]} kvm_auto_network run beside template_repo kvm_auto_image kvm_auto_vm;" \
        "their output follows those"
    (
        export KVM_AUTO_TEST_LANE=beside
        for tier in "${python_tiers[@]}"; do run_python_tier "$tier"; done
        order=500
        run_e2e_target kvm_auto_network
    ) > "$lane_log" 2>&1 &
    lane_pid=$!
    order=600
    run_e2e_target template_repo
    run_e2e_target kvm_auto_image
    run_e2e_target kvm_auto_vm
    wait "$lane_pid" || true
    cat "$lane_log"
    for target in range range_topology range_access; do run_e2e_target "$target"; done
    # The range role once more, given as variables, through its molecule scenario.
    run_tier "e2e molecule kvm_auto_range" 2.19 env NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 \
        sh -c 'cd roles/kvm_auto_range && exec molecule test'
    # The operator's path: the README's example deployment, rerun and destroyed twice.
    run_tier "e2e example" 2.19 "$here/e2e-example.sh"
else
    for tier in "${python_tiers[@]}"; do run_python_tier "$tier"; done
fi

echo "== test: summary"
sort -n "$results_file" | cut -c5-
passed=$(grep -c ' passed (' "$results_file" || true)
failed=$(grep -c ' FAILED (' "$results_file" || true)
echo "tiers: $passed passed, $failed failed"
[ "$failed" = 0 ]
