# shellcheck shell=bash
# Environment for working on cyris.kvm_auto from a checkout; source it:  . scripts/env.sh [2.19|2.21]
# It selects the Python environment of one ansible-core major made by scripts/setup.sh, makes
# this checkout the collection cyris.kvm_auto, and points libguestfs/virt-builder at what this
# machine needs.
KVM_AUTO_CORE=${1:-${KVM_AUTO_CORE:-2.19}}
# The Python environments: made by root, only read by other users.
export KVM_AUTO_CACHE=${KVM_AUTO_CACHE:-/var/cache/cyris-kvm-auto}
# What the scripts write as they run (the collection link, ansible-test trees, ansible-lint's
# home): the shared cache for root or whoever may write there, else this user's own cache.
if [ -z "${KVM_AUTO_WORK:-}" ]; then
    if [ "$(id -u)" = 0 ] || [ -w "$KVM_AUTO_CACHE" ]; then
        KVM_AUTO_WORK=$KVM_AUTO_CACHE
    else
        KVM_AUTO_WORK=${XDG_CACHE_HOME:-$HOME/.cache}/cyris-kvm-auto
    fi
fi
export KVM_AUTO_WORK
export KVM_AUTO_TEMPLATE_REPO=${KVM_AUTO_TEMPLATE_REPO:-/var/lib/cyris-kvm-auto/templates}
export KVM_AUTO_VENV="$KVM_AUTO_CACHE/venv/ansible-$KVM_AUTO_CORE"
export PATH="$KVM_AUTO_VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$KVM_AUTO_WORK/collections"
# This machine has /dev/kvm but cannot run KVM guests: libguestfs uses software emulation.
# On a host with working KVM, unset KVM_AUTO_VIRT_TYPE and these two.
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
export KVM_AUTO_VIRT_TYPE=${KVM_AUTO_VIRT_TYPE:-qemu}
export ANSIBLE_NOCOLOR=1
