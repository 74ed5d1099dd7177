#!/usr/bin/env bash
# Set up this machine (scripts/setup.sh, quick when already done) and deploy the example range
# (examples/ranges/basic.yml) on it from the local template repository. Guests attach to an
# isolated libvirt network. Remove it again with:  scripts/deploy-example.sh --destroy
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
case ${1:-} in
    "") playbook=deploy_range.yml ;;
    --destroy) playbook=destroy_range.yml ;;
    *) echo "usage: scripts/deploy-example.sh [--destroy]" >&2; exit 2 ;;
esac
set --  # env.sh takes the ansible-core major from its first argument
"$here/setup.sh"
# shellcheck source=scripts/env.sh
. "$here/env.sh"

if ! virsh --connect qemu:///system net-info cyris-isolated >/dev/null 2>&1; then
    virsh --connect qemu:///system net-define "$top/examples/networks/cyris-isolated.xml"
fi
virsh --connect qemu:///system net-autostart cyris-isolated >/dev/null
# Captured first: piped into grep -q under pipefail, virsh can die of SIGPIPE and the test fail.
network=$(virsh --connect qemu:///system net-info cyris-isolated)
if ! grep -q '^Active: *yes' <<<"$network"; then
    virsh --connect qemu:///system net-start cyris-isolated
fi

cd "$top"
exec ansible-playbook "playbooks/$playbook" \
    -e range_file="$top/examples/ranges/basic.yml" \
    -e kvm_auto_range_network=cyris-isolated \
    -e kvm_auto_range_virt_type="$KVM_AUTO_VIRT_TYPE" \
    -e kvm_auto_range_virt_builder_config_dir="$KVM_AUTO_TEMPLATE_REPO/config" \
    -e kvm_auto_range_check_signature=false
