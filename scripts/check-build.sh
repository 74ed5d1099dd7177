#!/usr/bin/env bash
# The collection builds into a tarball that installs, and ansible-doc reads its content.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --output-path "$work" "$top"
# Only the tarball may be seen: not the checkout that scripts/setup.sh links in.
export ANSIBLE_COLLECTIONS_PATH="$work/installed"
ansible-galaxy collection install --offline --force -p "$work/installed" "$work"/cyris-kvm_auto-*.tar.gz
ansible-doc --list cyris.kvm_auto --type module | tee "$work/modules"
for module in kvm_auto_image kvm_auto_vm; do
    grep -q "^cyris.kvm_auto.$module " "$work/modules" || { echo "module $module missing from the tarball" >&2; exit 1; }
    ansible-doc cyris.kvm_auto.$module > /dev/null
done
for role in kvm_host template_repo kvm_auto_range; do
    ansible-doc --type role cyris.kvm_auto.$role > /dev/null
done
tar -tzf "$work"/cyris-kvm_auto-*.tar.gz | grep -E '^(tests/output|scripts|\.ci)/' && { echo "development files in the tarball" >&2; exit 1; }
echo "collection tarball: $(basename "$work"/cyris-kvm_auto-*.tar.gz) installs, ansible-doc reads it"
