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

results=()
passed=0
failed=0
run_tier() {  # run_tier NAME CORE COMMAND...: run with that ansible-core's environment, time it, keep the outcome
    local name=$1 core=$2 start rc=0
    shift 2
    echo "== test: $name"
    start=$(date +%s)
    # shellcheck source=scripts/env.sh
    (. "$here/env.sh" "$core" && cd "$top" && "$@") || rc=$?
    results+=("$(printf '%-34s %s (%ds)' "$name" "$([ "$rc" = 0 ] && echo passed || echo FAILED)" $(($(date +%s) - start)))")
    if [ "$rc" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

for tier in "${tiers[@]}"; do
    case $tier in
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
        e2e)
            for target in template_repo kvm_auto_image kvm_auto_vm kvm_auto_network range range_topology range_access; do
                run_tier "e2e $target" 2.19 "$here/ansible-test.sh" --core 2.19 integration --local \
                    --python 3.11 --allow-destructive --allow-root --color no "$target"
            done
            # The range role once more, given as variables, through its molecule scenario.
            run_tier "e2e molecule kvm_auto_range" 2.19 env NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 \
                sh -c 'cd roles/kvm_auto_range && exec molecule test'
            # The operator's path: the README's example deployment, rerun and destroyed twice.
            run_tier "e2e example" 2.19 "$here/e2e-example.sh" ;;
    esac
done

echo "== test: summary"
printf '%s\n' "${results[@]}"
echo "tiers: $passed passed, $failed failed"
[ "$failed" = 0 ]
