# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""scripts/kvm-probe.sh against a fake QEMU, and the choice scripts/env.sh makes from a fake probe:
KVM that runs guests, no /dev/kvm, a /dev/kvm that cannot run one, explicit settings, the cache."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import subprocess

import pytest

SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'scripts')

# Boots (prints the kernel's first line and runs until killed), hangs, or fails, per accelerator.
FAKE_QEMU = r'''#!/bin/bash
accel='' serial=''
while [ $# -gt 0 ]; do
    case $1 in -accel) accel=$2; shift ;; -serial) serial=${2#file:}; shift ;; esac
    shift
done
case $accel in kvm) mode=$FAKE_QEMU_KVM ;; *) mode=$FAKE_QEMU_TCG ;; esac
case $mode in
    boots) echo '[    0.000000] Linux version 6.1.0' >> "$serial"; exec sleep 30 ;;
    hangs) exec sleep 30 ;;
    fails) echo "qemu-system-x86_64: failed to initialize $accel: Operation not permitted" >&2; exit 1 ;;
esac
'''


def write_script(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def clean_env(tmp_path, **extra):
    """The environment without the choices an outer `. scripts/env.sh` made."""
    env = {k: v for k, v in os.environ.items() if k not in ('KVM_AUTO_VIRT_TYPE', 'LIBGUESTFS_BACKEND_SETTINGS')}
    env.update(KVM_AUTO_WORK=str(tmp_path / 'work'), KVM_AUTO_CACHE=str(tmp_path / 'cache'))
    env.update(extra)
    return env


@pytest.fixture
def probe_env(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    write_script(bin_dir / 'qemu-system-x86_64', FAKE_QEMU)
    (tmp_path / 'kvm').write_text('')
    (tmp_path / 'vmlinuz').write_text('')
    return clean_env(tmp_path, PATH='%s:%s' % (bin_dir, os.environ['PATH']), KVM_AUTO_KVM_DEVICE=str(tmp_path / 'kvm'),
                     KVM_AUTO_KVM_PROBE_KERNEL=str(tmp_path / 'vmlinuz'), KVM_AUTO_KVM_PROBE_TIMEOUT='1')


@pytest.mark.parametrize('kvm, tcg, device, rc, says', [
    ('boots', 'boots', 'kvm', 0, 'kvm booted'),
    ('boots', 'boots', 'missing', 1, 'there is no'),
    ('hangs', 'boots', 'kvm', 1, 'is there but cannot run a guest: with KVM'),
    ('fails', 'boots', 'kvm', 1, 'failed (rc=1): qemu-system-x86_64: failed to initialize kvm'),
    ('hangs', 'hangs', 'kvm', 2, 'cannot tell'),
])
def test_probe_boots_a_kernel_with_kvm(tmp_path, probe_env, kvm, tcg, device, rc, says):
    env = dict(probe_env, FAKE_QEMU_KVM=kvm, FAKE_QEMU_TCG=tcg, KVM_AUTO_KVM_DEVICE=str(tmp_path / device))
    proc = subprocess.run([os.path.join(SCRIPTS, 'kvm-probe.sh')], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert (proc.returncode, proc.stderr) == (rc, ''), proc.stdout
    assert says in proc.stdout and len(proc.stdout.splitlines()) == 1


def test_probe_without_a_kernel_cannot_tell(tmp_path, probe_env):
    env = dict(probe_env, FAKE_QEMU_KVM='boots', FAKE_QEMU_TCG='boots', KVM_AUTO_KVM_PROBE_KERNEL=str(tmp_path / 'none'))
    proc = subprocess.run([os.path.join(SCRIPTS, 'kvm-probe.sh')], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 2 and 'no readable kernel' in proc.stdout


def source_env(tmp_path, probe_rc, **settings):
    """Source env.sh with a fake probe answering ``probe_rc``; return (choices, message, probe runs)."""
    log = tmp_path / 'probe-runs'
    probe = write_script(tmp_path / 'probe', '#!/bin/sh\necho x >> %s\necho "fake probe says %d"\nexit %d\n' % (log, probe_rc, probe_rc))
    script = '. "%s/env.sh"; echo "$KVM_AUTO_VIRT_TYPE ${LIBGUESTFS_BACKEND_SETTINGS-unset}"' % SCRIPTS
    proc = subprocess.run(['bash', '-c', script], env=clean_env(tmp_path, KVM_AUTO_KVM_PROBE=probe, **settings),
                          capture_output=True, text=True, check=True)
    runs = len(log.read_text().splitlines()) if log.exists() else 0
    return proc.stdout.strip(), proc.stderr, runs


@pytest.mark.parametrize('probe_rc, chosen', [
    (0, 'kvm unset'),        # KVM runs guests: libguestfs uses it too
    (1, 'qemu force_tcg'),   # no /dev/kvm, or one that cannot run a guest
    (2, 'qemu force_tcg'),   # cannot tell: the safe choice
])
def test_env_follows_the_probe_and_says_so_once(tmp_path, probe_rc, chosen):
    choice, message, runs = source_env(tmp_path, probe_rc)
    assert (choice, runs) == (chosen, 1)
    assert message.startswith('env.sh: fake probe says %d: KVM_AUTO_VIRT_TYPE=' % probe_rc), message
    choice, message, runs = source_env(tmp_path, probe_rc)
    # A definite answer is kept for this boot, silently; "cannot tell" is asked again.
    if probe_rc < 2:
        assert (choice, message, runs) == (chosen, '', 1)
    else:
        assert (choice, runs) == (chosen, 2) and message


@pytest.mark.parametrize('settings, probe_rc, chosen, runs', [
    ({'KVM_AUTO_VIRT_TYPE': 'kvm'}, 1, 'kvm force_tcg', 1),
    ({'LIBGUESTFS_BACKEND_SETTINGS': ''}, 1, 'qemu', 1),   # set, even empty: kept
    ({'KVM_AUTO_VIRT_TYPE': 'qemu', 'LIBGUESTFS_BACKEND_SETTINGS': 'force_tcg'}, 0, 'qemu force_tcg', 0),
])
def test_explicit_settings_win(tmp_path, settings, probe_rc, chosen, runs):
    choice, message, probe_runs = source_env(tmp_path, probe_rc, **settings)
    assert (choice, probe_runs) == (chosen, runs)
