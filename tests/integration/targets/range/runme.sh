#!/usr/bin/env bash
# End-to-end test of the range role: two KVM hosts reached over real SSH (sshd on 127.0.0.2 and
# 127.0.0.3, sharing this machine's libvirtd), 4 guests of 2 image configurations, with clones.
#   check mode on nothing -> nothing created
#   deploy                -> 2 builds, 3 compressed copies (one host to host), 4 running guests
#                            with their accounts
#   follow-on plays       -> hostname on every guest through its guest agent, from the deploy's
#                            in-memory inventory and from the inventory plugin cyris.kvm_auto.range
#   rerun, check mode     -> changed=0, no image sent
#   destroy, destroy      -> nothing left, then changed=0
# Machine-specific settings come from tests/integration/integration_config.yml when ansible-test
# runs it (else KVM_AUTO_VIRT_TYPE, KVM_AUTO_TEMPLATE_REPO), KVM_AUTO_RANGE_TEST_DIR and
# KVM_AUTO_RANGE_TEST_SSH_PORT.
set -eu -o pipefail
cd "$(dirname "$0")"

export KVM_AUTO_RANGE_TEST_DIR=${KVM_AUTO_RANGE_TEST_DIR:-/var/tmp/kvm-auto-range-test}
work=$KVM_AUTO_RANGE_TEST_DIR
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_HOST_KEY_CHECKING=False
start=$(date +%s)

step() { printf '\n=== %s (%ds)\n' "$*" "$(($(date +%s) - start))"; }

# Every host in the recap must show changed=0 and failed=0.
unchanged() {
  local log=$1 recap
  recap=$(sed -n '/^PLAY RECAP/,$p' "$log" | grep -E ': ok=')
  echo "$recap"
  if echo "$recap" | grep -Ev 'changed=0 .*failed=0' >/dev/null; then
    echo "FAIL: $log: a task changed something or failed" >&2
    grep -E '^(changed|failed|fatal):' "$log" >&2 || true
    return 1
  fi
}

cleanup() {
  step "cleanup"
  if [ -f "$work/inventory.yml" ]; then
    ansible-playbook cyris.kvm_auto.destroy_range -i "$work/inventory.yml" -e @"$work/vars.yml" \
      -e kvm_auto_range_purge_images=true > "$work/cleanup.log" 2>&1 || cat "$work/cleanup.log"
  fi
  ansible-playbook teardown.yml || true
}
trap cleanup EXIT

step "setup"
# This machine's settings, written by scripts/ansible-test.sh (ansible-test passes few variables).
config=../../integration_config.yml
settings=()
if [ -f "$config" ]; then settings=(-e @"$config"); fi
ansible-playbook setup.yml "${settings[@]}" "$@"
run=(-i "$work/inventory.yml" -e @"$work/vars.yml")

step "check mode before anything exists"
ansible-playbook -C cyris.kvm_auto.deploy_range "${run[@]}" "$@" | tee "$work/check-cold.log"
ansible-playbook nothing.yml "$@"
# ... and it says which guests it would create.
grep -q 'Would create (or update) once their image is built and on their host: desktop_cr901_1_1, desktop_cr901_1_2, webserver_cr901_2_1, attacker_cr901_2_1' \
  "$work/check-cold.log" || { echo "FAIL: check mode did not name the guests it would create" >&2; exit 1; }

step "deploy"
ansible-playbook deploy.yml "${run[@]}" "$@" | tee "$work/deploy.log"

step "a later playbook reaches every guest through the inventory plugin"
# ansible-test sets ANSIBLE_PYTHON_INTERPRETER to a placeholder: the inventory names the guests'
# Python itself, through the plugin's compose.
cat > "$work/guests.cyris_range.yml" <<EOF
plugin: cyris.kvm_auto.range
details_files:
  - $work/ranges/range_details-cr901.yml
compose:
  ansible_python_interpreter: "'/usr/bin/python3'"
EOF
ansible-inventory -i "$work/guests.cyris_range.yml" --graph
ansible-playbook -i "$work/guests.cyris_range.yml" follow_on.yml "$@" | tee "$work/follow-on.log"

step "rerun: nothing changes"
ansible-playbook rerun.yml "${run[@]}" "$@" | tee "$work/rerun.log"
unchanged "$work/rerun.log"

step "check mode on the deployed range: nothing would change"
ansible-playbook -C cyris.kvm_auto.deploy_range "${run[@]}" "$@" | tee "$work/check-warm.log"
unchanged "$work/check-warm.log"

step "destroy"
ansible-playbook cyris.kvm_auto.destroy_range "${run[@]}" "$@" | tee "$work/destroy.log"
ansible-playbook destroyed.yml "$@"

step "destroy again: nothing changes"
ansible-playbook cyris.kvm_auto.destroy_range "${run[@]}" "$@" | tee "$work/destroy-again.log"
unchanged "$work/destroy-again.log"

step "passed"
