#!/usr/bin/env bash
# End-to-end test of trainee access and reset: a range of two instances on this machine, each an
# entry point and a server on one network, reached as a trainee would from another machine (a
# network namespace joined to this host by a veth pair), checked inside through the guest agents
# (files/check_access.py).
#   too big, check mode   -> refused with the host's capacity message, nothing made
#   two deploys at once   -> both end well, one build, every guest running
#   notification          -> 0600; from the namespace each instance's login lands on its entry point,
#                            whose access link leads nowhere else
#   reset of instance 1   -> (a deploy started meanwhile waits, then changes nothing, with one guest
#                            job for the host's four guests) instance 1's
#                            disks are new, instance 2 untouched; the same login works again
#   check mode reset      -> names instance 1's guests, changes nothing
#   reset of instance 3   -> fails naming it, changes nothing
#   destroy, destroy      -> no domain, network, port or access file left, then changed=0
#   passwords             -> in no log, no command line seen meanwhile, no QEMU log
set -eu -o pipefail
cd "$(dirname "$0")"

work=${KVM_AUTO_ACCESS_TEST_DIR:-/var/tmp/kvm-auto-access-test}
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
start=$(date +%s)
step() { printf '\n=== %s (%ds)\n' "$*" "$(($(date +%s) - start))"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# The trainees' side: a namespace with its own address, 198.51.100.2, reaching the host at .1.
netns=kvm-auto-access78
host_address=198.51.100.1
ports=60000-65000
lock=/run/lock/cyris-kvm-auto-cr78.lock
details=$work/ranges/range_details-cr78.yml
notification=$work/ranges/range_notification-cr78.txt
access=$work/ranges/range_access-cr78.yml
domains=(desktop_cr78_1_1 server_cr78_1_1 desktop_cr78_2_1 server_cr78_2_1)

recap() { sed -n '/^PLAY RECAP/,$p' "$1" | grep -E ': ok='; }

unchanged() {  # every host in the recap shows changed=0 and failed=0
  local log=$1
  recap "$log"
  if recap "$log" | grep -Ev 'changed=0 .*failed=0' >/dev/null; then
    grep -E '^(changed|failed|fatal):' "$log" >&2 || true
    fail "$log: a task changed something or failed"
  fi
}

nothing_left() {  # no domain, libvirt network or bridge of range 78
  local domains networks bridges
  domains=$(virsh --connect qemu:///system list --all --name)
  networks=$(virsh --connect qemu:///system net-list --all --name)
  bridges=$(ip -o link show)
  if [[ $domains == *_cr78_* ]] || [[ $networks == *cr78-* ]] || [[ $bridges == *kvr78-* ]]; then
    echo "$domains" "$networks" >&2
    fail "something of range 78 is left"
  fi
  echo "no domain, network or bridge of range 78 is left"
}

all_running() {
  local domain state
  for domain in "${domains[@]}"; do
    state=$(virsh --connect qemu:///system domstate "$domain" 2>&1 || true)
    [ "$state" = running ] || fail "$domain is not running: $state"
  done
  echo "every guest is running: ${domains[*]}"
}

listening() { [ -n "$(ss -Htln "sport = :$1")" ]; }

sampler=
cleanup() {
  step "cleanup"
  [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
  ansible-playbook cyris.kvm_auto.destroy_range "${run[@]}" -e kvm_auto_range_purge_images=true \
    > "$work/cleanup.log" 2>&1 || cat "$work/cleanup.log"
  ip netns delete "$netns" 2>/dev/null || true  # takes its end of the veth pair, and so both
  rm -rf "$work/secret"
}

step "setup"
mkdir -p "$work"/{build,images,disks,ranges}
chmod 0711 "$work" "$work"/images "$work"/disks
# Logs of an earlier run hold that run's passwords, not this run's: start clean all the same.
rm -f "$work"/*.log "$work"/argv-sample.txt "$work"/state-*.json
# All the test prints goes to a log too, so that the password check covers it.
exec > >(tee "$work/runme.log") 2>&1
# A private copy of the notification, for the password check after destroy has removed it.
install -d -m 0700 "$work/secret"
# This machine's settings, written by scripts/ansible-test.sh (ansible-test passes few variables).
config=../../integration_config.yml
python3 - "$config" "$work" "$host_address" <<'PY'
import os, sys, yaml
config = yaml.safe_load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else {}
work, address = sys.argv[2:4]
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
    # What trainees are told to connect to: the host as the namespace reaches it.
    'kvm_auto_range_trainee_address': address,
}
yaml.safe_dump(settings, open(work + '/vars.yml', 'w'))
PY
run=(-e @"$work/vars.yml")
trap cleanup EXIT
ip netns delete "$netns" 2>/dev/null || true
ip netns add "$netns"
ip link add kva78-host type veth peer name kva78-trainee
ip link set kva78-trainee netns "$netns"
ip addr add "$host_address/30" dev kva78-host
ip link set kva78-host up
ip -n "$netns" addr add 198.51.100.2/30 dev kva78-trainee
ip -n "$netns" link set kva78-trainee up
ip -n "$netns" link set lo up
# Every command line seen from now on, to look for passwords in at the end.
python3 files/check_access.py sample-argv "$work/argv-sample.txt" &
sampler=$!

step "a range that does not fit: refused in check mode, one message for the host, nothing made"
# 4 new guests with 100T each of overlay allowance need more disk than any host here has.
before=$(find "$work"/build "$work"/images "$work"/disks "$work"/ranges -printf '%p %m %s\n' | sort)
rc=0
ansible-playbook -C cyris.kvm_auto.deploy_range "${run[@]}" -e kvm_auto_range_overlay_allowance=100T "$@" \
  > "$work/too-big.log" 2>&1 || rc=$?
cat "$work/too-big.log"
[ "$rc" != 0 ] || fail "the range that does not fit was not refused"
# The image and disk directories are on one file system here: counted together.
grep -F 'host host_1 (localhost): the range does not fit: its guests need ' "$work/too-big.log" |
  grep -F "of disk in $work/images and $work/disks (" | grep -F '4 new guest overlays of 104857600 MiB' >/dev/null ||
  fail "no message for host_1 with the disk its guests need in $work/images and $work/disks"
# Check mode reports the directories whose mode a run would set as changed: what counts is that nothing changed.
nothing_left
[ "$(find "$work"/build "$work"/images "$work"/disks "$work"/ranges -printf '%p %m %s\n' | sort)" = "$before" ] ||
  fail "the refused deploy made or changed files in $work"
[ ! -e "$lock" ] || fail "the refused deploy left $lock"
echo "refused before any change"

step "two deploys of the range at the same moment"
rc_a=0 rc_b=0
ansible-playbook cyris.kvm_auto.deploy_range "${run[@]}" "$@" > "$work/deploy-a.log" 2>&1 &
deploy_a=$!
ansible-playbook cyris.kvm_auto.deploy_range "${run[@]}" "$@" > "$work/deploy-b.log" 2>&1 &
deploy_b=$!
wait "$deploy_a" || rc_a=$?
wait "$deploy_b" || rc_b=$?
cat "$work/deploy-a.log"
echo "--- second deploy"
cat "$work/deploy-b.log"
if [ "$rc_a" != 0 ] || [ "$rc_b" != 0 ]; then fail "the deploys ended with $rc_a and $rc_b, not both 0"; fi
# Each deploy's summary says what it built ("changed in this run: built IMAGE, ...; ...").
builds=$(grep -ho 'changed in this run: [^"]*' "$work/deploy-a.log" "$work/deploy-b.log" |
  grep -o 'built [^;]*' | sed 's/^built //' | tr ',' '\n' | grep -c . || true)
[ "$builds" = 1 ] || fail "the two deploys built $builds images, not 1"
echo "one image built between the two deploys"
all_running

step "the notification, and logging in from the namespace"
for file in "$notification" "$access"; do
  mode=$(stat -c %a "$file")
  [ "$mode" = 600 ] || fail "$file has mode $mode, not 0600"
  echo "$file: mode 0600"
done
install -m 0600 "$notification" "$work/secret/notification.txt"
python3 files/check_access.py notification "$notification" "$host_address" "$ports"
python3 files/check_access.py secrets "$notification" "$details"
mapfile -t trainee_ports < <(python3 files/check_access.py ports "$notification")
for port in "${trainee_ports[@]}"; do
  listening "$port" || fail "nothing listens on port $port"
done
echo "ports ${trainee_ports[*]} listen after the deploys have exited"
python3 files/check_access.py login "$notification" "$netns" 1 desktop-cr78-1-1
python3 files/check_access.py login "$notification" "$netns" 2 desktop-cr78-2-1
python3 files/check_access.py confined desktop_cr78_1_1 2299

step "reset of instance 1, with a deploy started while it runs"
python3 files/check_access.py mark "$details"
python3 files/check_access.py state "$details" "$work/state-marked.json"
rc_reset=0 rc_deploy=0
ansible-playbook cyris.kvm_auto.reset_range "${run[@]}" -e reset_instances=1 "$@" > "$work/reset.log" 2>&1 &
reset=$!
# The deploy starts once the reset holds the range: it must wait, then find nothing to change.
for _ in $(seq 120); do
  if grep -qs '"operation": "reset"' "$lock"; then break; fi
  kill -0 "$reset" 2>/dev/null || break
  sleep 1
done
grep -qs '"operation": "reset"' "$lock" || { cat "$work/reset.log"; fail "the reset never held $lock"; }
ansible-playbook cyris.kvm_auto.deploy_range "${run[@]}" "$@" > "$work/rerun.log" 2>&1 &
rerun=$!
wait "$reset" || rc_reset=$?
wait "$rerun" || rc_deploy=$?
cat "$work/reset.log"
echo "--- the deploy started during the reset"
cat "$work/rerun.log"
[ "$rc_reset" = 0 ] || fail "the reset ended with $rc_reset"
[ "$rc_deploy" = 0 ] || fail "the deploy started during the reset ended with $rc_deploy"
unchanged "$work/rerun.log"
# The rerun's guests cost one kvm_auto_vms job for the one host, not one job per guest.
jobs=$(sed -n '/Start creating the guests on each host\]/,/^$/p' "$work/rerun.log" | grep '(item=' || true)
echo "$jobs"
[ "$(grep -c . <<<"$jobs")" = 1 ] || fail "the rerun did not start exactly one guest job"
for domain in "${domains[@]}"; do
  [[ $jobs == *"$domain"*" on localhost)"* ]] || fail "the rerun's guest job on localhost does not name $domain"
done
echo "the rerun started one job for the four guests of localhost"
python3 files/check_access.py expect "$details" "$work/state-marked.json" 1
python3 files/check_access.py login "$notification" "$netns" 1 desktop-cr78-1-1
python3 files/check_access.py login "$notification" "$netns" 2 desktop-cr78-2-1
cmp -s "$notification" "$work/secret/notification.txt" || fail "the notification changed"
echo "the notification is as the deploy wrote it"

step "check mode reset: names instance 1's guests, changes nothing"
python3 files/check_access.py mark "$details" 1
python3 files/check_access.py state "$details" "$work/state-remarked.json"
ansible-playbook -C cyris.kvm_auto.reset_range "${run[@]}" -e reset_instances=1 "$@" | tee "$work/check-reset.log"
grep -i reset "$work/check-reset.log" | grep desktop_cr78_1_1 | grep server_cr78_1_1 | grep -v _cr78_2_ >/dev/null ||
  fail "check mode did not name the guests of instance 1 (and only them) as those it would reset"
python3 files/check_access.py expect "$details" "$work/state-remarked.json"

step "reset of an instance the range does not have"
rc=0
ansible-playbook cyris.kvm_auto.reset_range "${run[@]}" -e reset_instances=3 "$@" > "$work/reset-3.log" 2>&1 || rc=$?
cat "$work/reset-3.log"
[ "$rc" != 0 ] || fail "the reset of instance 3 succeeded"
grep -qi 'instance 3' "$work/reset-3.log" || fail "the failure does not name instance 3"
recap "$work/reset-3.log"
if recap "$work/reset-3.log" | grep -v 'changed=0 ' >/dev/null; then fail "the failed reset changed something"; fi
python3 files/check_access.py expect "$details" "$work/state-remarked.json"

step "destroy"
ansible-playbook cyris.kvm_auto.destroy_range "${run[@]}" "$@" | tee "$work/destroy.log"
nothing_left
for port in "${trainee_ports[@]}"; do
  if listening "$port"; then fail "port $port still listens"; fi
done
echo "ports ${trainee_ports[*]} no longer listen"
for file in "$details" "$notification" "$access"; do
  [ ! -e "$file" ] || fail "$file is left"
done
echo "the details, access and notification files are gone"

step "destroy again: nothing changes"
ansible-playbook cyris.kvm_auto.destroy_range "${run[@]}" "$@" | tee "$work/destroy-again.log"
unchanged "$work/destroy-again.log"
[ ! -e "$lock" ] || fail "$lock is left behind"
echo "no lock of range 78 is left"

step "no password in any output, command line or QEMU log"
kill "$sampler"
sampler=
qemu_logs=()
for domain in "${domains[@]}"; do
  qemu_logs+=("/var/log/libvirt/qemu/$domain.log")
done
python3 files/check_access.py secrets "$work/secret/notification.txt" "$work"/*.log "$work/argv-sample.txt" "${qemu_logs[@]}"

step "passed"
