#!/usr/bin/env bash
# End-to-end test of topology networks: a range of two instances on this machine, each an office
# and a server network joined by a firewall guest with one forwarding rule, looked at from inside
# the guests through their guest agents (files/check_topology.py).
#   check mode on nothing -> nothing created; it names the networks and guests it would create
#   deploy                -> 4 networks, 6 guests with their addresses and host names
#   from inside           -> traffic as the topology and the rule say, nothing else
#                            and the server's emulate_malware programs running from its image
#   rerun, check mode     -> changed=0
#   after_clone           -> the srv clones ran their program once, after their first boot
#   emulate               -> each srv clone's log holds the firewall's failed logins, once (after
#                            deploy and after the rerun); its capture file reads with tcpdump
#   destroy, destroy      -> no domain, network or bridge left, then changed=0
set -eu -o pipefail
cd "$(dirname "$0")"

work=${KVM_AUTO_TOPOLOGY_TEST_DIR:-/var/tmp/kvm-auto-topology-test}
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
start=$(date +%s)
step() { printf '\n=== %s (%ds)\n' "$*" "$(($(date +%s) - start))"; }

unchanged() {  # every host in the recap shows changed=0 and failed=0
  local log=$1 recap
  recap=$(sed -n '/^PLAY RECAP/,$p' "$log" | grep -E ': ok=')
  echo "$recap"
  if echo "$recap" | grep -Ev 'changed=0 .*failed=0' >/dev/null; then
    echo "FAIL: $log: a task changed something or failed" >&2
    grep -E '^(changed|failed|fatal):' "$log" >&2 || true
    return 1
  fi
}

nothing_left() {  # no domain, libvirt network or bridge of range 77
  local domains networks bridges
  domains=$(virsh --connect qemu:///system list --all --name)
  networks=$(virsh --connect qemu:///system net-list --all --name)
  bridges=$(ip -o link show)
  if [[ $domains == *_cr77_* ]] || [[ $networks == *cr77-* ]] || [[ $bridges == *kvr77-* ]]; then
    echo "FAIL: something of range 77 is left:" >&2
    echo "$domains" "$networks" >&2
    return 1
  fi
  echo "no domain, network or bridge of range 77 is left"
}

cleanup() {
  step "cleanup"
  ansible-playbook cyris.kvm_auto.destroy_range "${run[@]}" -e kvm_auto_range_purge_images=true \
    > "$work/cleanup.log" 2>&1 || cat "$work/cleanup.log"
  ip addr del 192.0.2.1/32 dev lo 2>/dev/null || true
}

step "setup"
mkdir -p "$work"/{build,images,disks,ranges}
chmod 0711 "$work" "$work"/images "$work"/disks
# This machine's settings, written by scripts/ansible-test.sh (ansible-test passes few variables).
config=../../integration_config.yml
python3 - "$config" "$work" <<'PY'
import os, sys, yaml
config = yaml.safe_load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else {}
work = sys.argv[2]
repo = config.get('kvm_auto_test_template_repo') or os.environ.get('KVM_AUTO_TEMPLATE_REPO') or '/var/lib/cyris-kvm-auto/templates'
settings = {
    'range_file': os.path.abspath('files/range.yml'),
    'kvm_auto_range_virt_type': config.get('kvm_auto_test_virt_type') or os.environ.get('KVM_AUTO_VIRT_TYPE') or 'qemu',
    'kvm_auto_range_virt_builder_config_dir': repo + '/config',
    'kvm_auto_range_check_signature': False,
    'kvm_auto_range_libguestfs_environment': config.get('kvm_auto_test_libguestfs_env') or {},
    'kvm_auto_range_build_dir': work + '/build',
    'kvm_auto_range_image_dir': work + '/images',
    'kvm_auto_range_disk_dir': work + '/disks',
    'kvm_auto_range_details_dir': work + '/ranges',
    'kvm_auto_range_wait_for': 'agent',
}
yaml.safe_dump(settings, open(work + '/vars.yml', 'w'))
PY
run=(-e @"$work/vars.yml")
trap cleanup EXIT
# An address of the KVM host outside 127/8 (on lo: this machine has no dummy interfaces), for
# the guests to try, and fail, to reach.
ip addr replace 192.0.2.1/32 dev lo

step "check mode before anything exists"
ansible-playbook -C cyris.kvm_auto.deploy_range "${run[@]}" "$@" | tee "$work/check-cold.log"
nothing_left
grep -q 'Would create the networks: cr77-1-office, cr77-1-servers, cr77-2-office, cr77-2-servers' "$work/check-cold.log" ||
  { echo "FAIL: check mode did not name the networks it would create" >&2; exit 1; }

step "deploy"
ansible-playbook cyris.kvm_auto.deploy_range "${run[@]}" "$@" | tee "$work/deploy.log"

step "from inside the guests"
python3 files/check_topology.py "$work/ranges/range_details-cr77.yml"

step "emulate_attack and emulate_traffic_capture_file in the srv clones"
python3 files/check_emulate.py "$work/ranges/range_details-cr77.yml"

step "rerun: nothing changes"
ansible-playbook cyris.kvm_auto.deploy_range "${run[@]}" "$@" | tee "$work/rerun.log"
unchanged "$work/rerun.log"

step "the after_clone program ran once on each srv clone, there, with its arguments"
for instance in 1 2; do
  log=$(python3 files/guest_exec.py "srv_cr77_${instance}_1" 'cat /var/lib/range-after-clone.log')
  if [ "$log" != "srv-cr77-${instance}-1 first boot of the clone" ]; then
    echo "FAIL: srv_cr77_${instance}_1 after_clone log: $log" >&2
    exit 1
  fi
  echo "srv_cr77_${instance}_1: $log"
done

step "the rerun made no login attempts and wrote no capture file again"
python3 files/check_emulate.py "$work/ranges/range_details-cr77.yml"

step "check mode on the deployed range: nothing would change"
ansible-playbook -C cyris.kvm_auto.deploy_range "${run[@]}" "$@" | tee "$work/check-warm.log"
unchanged "$work/check-warm.log"

step "a network removed under running guests: the rerun brings it back and plugs them in again"
virsh --connect qemu:///system net-destroy cr77-1-office
virsh --connect qemu:///system net-undefine cr77-1-office
ansible-playbook cyris.kvm_auto.deploy_range "${run[@]}" "$@" | tee "$work/repair.log"
grep -q 'changed: \[localhost\] => (item=cr77-1-office' "$work/repair.log" ||
  { echo "FAIL: the rerun did not recreate cr77-1-office" >&2; exit 1; }
python3 - "$work/ranges/range_details-cr77.yml" <<'PY'
import sys, yaml
sys.path.insert(0, 'files')
from guest_exec import run
details = yaml.safe_load(open(sys.argv[1]))
fw = next(i['address'] for g in details['guests'] for d in g['domains'] if d['name'] == 'fw_cr77_1_1'
          for i in d['interfaces'] if i['cyris_network'] == 'office')
code, out = run('pc_cr77_1_1', 'nc -z -w 3 %s 22' % fw)
print('pc_cr77_1_1 reaches fw_cr77_1_1 (%s) again: %s' % (fw, 'ok' if code == 0 else 'FAIL ' + out))
sys.exit(code)
PY

step "destroy"
ansible-playbook cyris.kvm_auto.destroy_range "${run[@]}" "$@" | tee "$work/destroy.log"
nothing_left

step "destroy again: nothing changes"
ansible-playbook cyris.kvm_auto.destroy_range "${run[@]}" "$@" | tee "$work/destroy-again.log"
unchanged "$work/destroy-again.log"

step "passed"
