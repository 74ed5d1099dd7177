#!/usr/bin/env bash
# Whether this host can run KVM guests. /dev/kvm alone proves nothing: a nested or sandboxed
# host may have it, run a few instructions or even a PC's firmware in a VM, and still never get
# a Linux kernel to print a line. So this boots what a guest boots: QEMU with KVM starts this
# host's own kernel, which must reach its first console line ("Linux version") in time. The
# same boot with software emulation (TCG) is the control: a QEMU or kernel that boots nothing
# is not blamed on KVM.
#
#   scripts/kvm-probe.sh    # prints one line saying why; exit 0: KVM runs guests here,
#                           # 1: it does not, 2: cannot tell (no QEMU, no kernel, or none boots)
#
# KVM_AUTO_KVM_DEVICE         the device looked for first (default /dev/kvm)
# KVM_AUTO_KVM_PROBE_KERNEL   the kernel to boot (default this host's, else another in /boot)
# KVM_AUTO_KVM_PROBE_TIMEOUT  seconds the kernel may take to print its first line (default 15;
#                             with working KVM it takes well under one)
set -uo pipefail
device=${KVM_AUTO_KVM_DEVICE:-/dev/kvm}
timeout_s=${KVM_AUTO_KVM_PROBE_TIMEOUT:-15}
qemu="qemu-system-x86_64"
if [ ! -e "$device" ]; then
    echo "there is no $device (no KVM module loaded, or no hardware virtualization)"
    exit 1
fi
if ! command -v "$qemu" > /dev/null; then
    echo "cannot tell whether $device runs guests: $qemu is not installed"
    exit 2
fi
kernel=${KVM_AUTO_KVM_PROBE_KERNEL:-}
if [ -z "$kernel" ]; then
    for candidate in "/boot/vmlinuz-$(uname -r)" /boot/vmlinuz-*; do
        [ -r "$candidate" ] && { kernel=$candidate; break; }
    done
fi
if [ -z "$kernel" ] || [ ! -r "$kernel" ]; then
    echo "cannot tell whether $device runs guests: no readable kernel in /boot to boot"
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

boot() {  # boot ACCEL: 0 when the kernel printed its first line in time, 1 when not (why: $work/ACCEL.why)
    local accel=$1 serial="$work/$1.serial" pid waited=0
    : > "$serial"
    # No init: the kernel panics and, with panic=-1 and -no-reboot, QEMU exits by itself.
    "$qemu" -accel "$accel" -machine pc -m 256 -nodefaults -no-user-config -display none -monitor none \
        -serial "file:$serial" -no-reboot -kernel "$kernel" \
        -append "console=ttyS0 panic=-1 rdinit=/nonexistent" > "$work/$accel.log" 2>&1 &
    pid=$!
    while [ "$waited" -lt $((timeout_s * 5)) ]; do
        if grep -q 'Linux version' "$serial"; then
            kill "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            echo "$qemu -accel $accel failed (rc=$?): $(grep -v -i warning "$work/$accel.log" | tail -1)" > "$work/$accel.why"
            return 1
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "$kernel printed nothing within $timeout_s s" > "$work/$accel.why"
    return 1
}

if boot kvm; then
    echo "$device booted $kernel with $qemu -accel kvm"
    exit 0
fi
if ! boot tcg; then
    echo "cannot tell whether $device runs guests: $qemu boots $kernel neither with KVM ($(cat "$work/kvm.why")) nor with TCG ($(cat "$work/tcg.why"))"
    exit 2
fi
echo "$device is there but cannot run a guest: with KVM $(cat "$work/kvm.why"); with TCG it boots"
exit 1
