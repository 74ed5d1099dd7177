# shellcheck shell=bash
# Environment for working on cyris.kvm_auto from a checkout; source it:  . scripts/env.sh [2.19|2.21]
# It selects the Python environment of one ansible-core major made by scripts/setup.sh, makes
# this checkout the collection cyris.kvm_auto, and chooses KVM or software emulation for the
# guests and libguestfs by what this machine can run.
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
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
export ANSIBLE_NOCOLOR=1

# KVM where it works, software emulation elsewhere: the libvirt domain type of the tests'
# guests (KVM_AUTO_VIRT_TYPE kvm or qemu) and whether libguestfs must avoid KVM
# (LIBGUESTFS_BACKEND_SETTINGS=force_tcg) follow scripts/kvm-probe.sh, which boots a kernel
# with KVM (a host may have /dev/kvm and still not run guests). Either variable set beforehand
# wins. The answer is kept per user and boot in $KVM_AUTO_WORK and said when first found.
_kvm_auto_choose_virt() {
    local probe=${KVM_AUTO_KVM_PROBE:-$1/kvm-probe.sh} boot_id cache='' cached rc='' why
    if [ -n "${KVM_AUTO_VIRT_TYPE:-}" ] && [ -n "${LIBGUESTFS_BACKEND_SETTINGS+set}" ]; then
        return 0
    fi
    boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || true)
    [ -z "$boot_id" ] || cache="$KVM_AUTO_WORK/kvm-probe.$(id -u).$boot_id"
    if [ -n "$cache" ] && [ -r "$cache" ]; then
        cached=$(cat "$cache")
        rc=${cached%%$'\n'*}
        why=${cached#*$'\n'}
    fi
    case $rc in
        0 | 1) ;;
        *)
            rc=0
            why=$("$probe") || rc=$?
            # Only a definite answer is kept: "cannot tell" (no QEMU yet) is asked again next time.
            if [ -n "$cache" ] && [ "$rc" -le 1 ] && mkdir -p "$KVM_AUTO_WORK" 2>/dev/null && [ -w "$KVM_AUTO_WORK" ]; then
                { printf '%s\n%s\n' "$rc" "$why" > "$cache.$$" && mv -f "$cache.$$" "$cache"; } 2>/dev/null || true
            fi
            cache=''  # found just now: say so below
            ;;
    esac
    if [ "$rc" = 0 ]; then
        export KVM_AUTO_VIRT_TYPE=${KVM_AUTO_VIRT_TYPE:-kvm}
    else
        export KVM_AUTO_VIRT_TYPE=${KVM_AUTO_VIRT_TYPE:-qemu}
        export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS-force_tcg}
    fi
    if [ -z "$cache" ]; then
        echo "env.sh: $why: KVM_AUTO_VIRT_TYPE=$KVM_AUTO_VIRT_TYPE, LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS-(unset: libguestfs uses KVM)} (set either before sourcing env.sh to choose)" >&2
    fi
}
_kvm_auto_choose_virt "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
unset -f _kvm_auto_choose_virt
