#!/usr/bin/env bash
# The offline template repository: published, found by virt-builder without a network, a no-op
# to rebuild, and never half-published when a build fails.
set -euo pipefail
repo=${KVM_AUTO_TEMPLATE_REPO:-/var/lib/cyris-kvm-auto/templates}
# Under ansible-test the repository comes from the file scripts/ansible-test.sh writes.
config=../../integration_config.yml
if [ -f "$config" ]; then
    repo=$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["kvm_auto_test_template_repo"])' "$config")
fi
playbook=cyris.kvm_auto.build_template_repo
scratch=$(mktemp -d)
cleanup() {
    umount "$scratch/small" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT

expect_failure() {  # expect_failure LOG PATTERN...: the last play failed and said each PATTERN
    local log=$1
    shift
    grep -q 'failed=1' "$log" || { echo "expected the build to fail:"; cat "$log"; exit 1; }
    for pattern in "$@"; do
        grep -q -- "$pattern" "$log" || { echo "expected '$pattern' in:"; cat "$log"; exit 1; }
    done
}

echo "== the published repository is current: a rerun changes nothing"
ansible-playbook "$playbook" -e template_repo_dir="$repo" | tee "$scratch/rerun.log"
grep -Eq 'localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$scratch/rerun.log"

echo "== virt-builder lists the template with no network at all"
VIRT_BUILDER_DIRS="$repo/config" XDG_CONFIG_HOME="$repo/config" \
    unshare --net virt-builder --list --list-format json > "$scratch/list.json"
python3 - "$scratch/list.json" "$repo" <<'PY'
import json, sys
listing = json.load(open(sys.argv[1]))
assert [s['uri'] for s in listing['sources']] == ['file://%s/index' % sys.argv[2]], listing['sources']
templates = {t['os-version']: t for t in listing['templates']}
assert list(templates) == ['debian-12'], templates
assert templates['debian-12']['osinfo'] == 'debian12', templates['debian-12']
assert templates['debian-12']['arch'] == 'x86_64', templates['debian-12']
PY

echo "== a failed download publishes nothing"
ansible-playbook "$playbook" -e template_repo_dir="$scratch/repo" -e template_repo_work_dir="$scratch/work" \
    -e template_repo_mirror=http://127.0.0.1:9/debian > "$scratch/mirror.log" 2>&1 || true
expect_failure "$scratch/mirror.log" "Building template debian-12 failed at 'Install Debian" \
    "Check that the mirror http://127.0.0.1:9/debian is reachable" "Nothing was published"
[ ! -e "$scratch/repo/index" ] && [ ! -e "$scratch/work" ]

mkdir "$scratch/small"
mount -t tmpfs -o size=64m tmpfs "$scratch/small"
echo "== too little free space is refused before anything starts"
ansible-playbook "$playbook" -e template_repo_dir="$scratch/repo" -e template_repo_work_dir="$scratch/small/work" \
    > "$scratch/space.log" 2>&1 || true
expect_failure "$scratch/space.log" "Not enough free space to build template debian-12"
[ ! -e "$scratch/repo/index" ]

echo "== a disk that fills up during the build publishes nothing"
ansible-playbook "$playbook" -e template_repo_dir="$scratch/repo" -e template_repo_work_dir="$scratch/small/work" \
    -e template_repo_min_free_gib=0 > "$scratch/full.log" 2>&1 || true
expect_failure "$scratch/full.log" "Building template debian-12 failed at 'Install Debian" "The disk is full" \
    "Nothing was published"
[ ! -e "$scratch/repo/index" ] && [ ! -e "$scratch/small/work" ]

echo "== a host that is not Debian gets one clear message"
ansible-playbook "$playbook" -e template_repo_dir="$scratch/repo" \
    -e '{"ansible_facts": {"os_family": "RedHat", "distribution": "Fedora"}}' > "$scratch/os.log" 2>&1 || true
expect_failure "$scratch/os.log" "needs a Debian or Ubuntu build host (this one is Fedora)"

echo "template_repo: all checks passed"
