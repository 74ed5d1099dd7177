#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measure the reset of one instance against deploying it cold.

Uses the range of the end-to-end target tests/integration/targets/range_access (an entry point
and a server per instance, one image), as range 79 with ``--instances`` instances on this
machine, and prints:

* the cold deploy (the image built, the guests created and booted until their guest agents
  answer): its whole time and its build and create+boot phases;
* ``--resets`` resets of instance 1 (playbooks/reset_range.yml, not waiting for the guests):
  the playbook's own time, the host work (from the playbook's start until the last of the
  instance's guests is started again: its new QEMU process) and the time until every one of
  them answers its guest agent again.

Run as root from a checkout with ``. scripts/env.sh`` sourced; with software emulation on 2
cores it takes about 6 minutes and cleans up after itself.
Environment: KVM_AUTO_VIRT_TYPE (default qemu), KVM_AUTO_TEMPLATE_REPO, LIBGUESTFS_BACKEND(_SETTINGS),
KVM_AUTO_RESET_BENCH_DIR (default /var/tmp/kvm-auto-reset-bench).
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGETS = os.path.join(ROOT, 'tests', 'integration', 'targets')
sys.path.insert(0, os.path.join(TARGETS, 'range_topology', 'files'))
from guest_exec import agent  # noqa: E402  pylint: disable=wrong-import-position

WORK = os.environ.get('KVM_AUTO_RESET_BENCH_DIR', '/var/tmp/kvm-auto-reset-bench')
RANGE_ID = 79


def run(argv, log):
    """Run a command, its output appended to ``log``; return seconds taken."""
    start = time.time()
    with open(log, 'a') as handle:
        subprocess.run(argv, check=True, stdout=handle, stderr=subprocess.STDOUT)
    return time.time() - start


def write_settings(instances):
    """The range file (range 79 with that many instances) and the role variables; returns the variables file."""
    with open(os.path.join(TARGETS, 'range_access', 'files', 'range.yml')) as handle:
        the_range = yaml.safe_load(handle)
    clone = next(s for s in the_range if 'clone_settings' in s)['clone_settings'][0]
    clone['range_id'] = RANGE_ID
    clone['hosts'][0]['instance_number'] = instances
    range_file = os.path.join(WORK, 'range.yml')
    with open(range_file, 'w') as handle:
        yaml.safe_dump(the_range, handle, sort_keys=False)
    repo = os.environ.get('KVM_AUTO_TEMPLATE_REPO') or '/var/lib/cyris-kvm-auto/templates'
    settings = {
        'range_file': range_file,
        'kvm_auto_range_virt_type': os.environ.get('KVM_AUTO_VIRT_TYPE') or 'qemu',
        'kvm_auto_range_virt_builder_config_dir': repo + '/config',
        'kvm_auto_range_check_signature': False,
        'kvm_auto_range_libguestfs_environment': dict(
            (k, v) for k, v in os.environ.items() if k in ('LIBGUESTFS_BACKEND', 'LIBGUESTFS_BACKEND_SETTINGS') and v),
        'kvm_auto_range_build_dir': WORK + '/build',
        'kvm_auto_range_image_dir': WORK + '/images',
        'kvm_auto_range_disk_dir': WORK + '/disks',
        'kvm_auto_range_details_dir': WORK + '/ranges',
        'kvm_auto_range_wait_for': 'agent',
    }
    path = os.path.join(WORK, 'vars.yml')
    with open(path, 'w') as handle:
        yaml.safe_dump(settings, handle)
    return path


def qemu_process(domain):
    """(pid, epoch seconds it started) of the domain's QEMU process, or None when it has none."""
    try:
        with open('/run/libvirt/qemu/%s.pid' % domain) as handle:
            pid = int(handle.read().strip())
        with open('/proc/%d/stat' % pid) as handle:
            # Field 22, after the command name in parentheses: start time in clock ticks since boot.
            ticks = int(handle.read().rsplit(')', 1)[1].split()[19])
    except (OSError, ValueError):
        return None
    with open('/proc/stat') as handle:
        boot = next(int(line.split()[1]) for line in handle if line.startswith('btime '))
    return pid, boot + ticks / float(os.sysconf('SC_CLK_TCK'))


def wait_for_agent(domain, timeout=900):
    """Epoch seconds when the domain's guest agent first answers ``guest-ping``."""
    deadline = time.time() + timeout
    while True:
        try:
            agent(domain, 'guest-ping', {})
            return time.time()
        except RuntimeError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def reset_once(common, guests, log):
    """Reset instance 1 without waiting for its guests; (playbook, host work, until answered) in seconds."""
    before = dict((g, qemu_process(g)) for g in guests)
    start = time.time()
    playbook = run(['ansible-playbook', 'cyris.kvm_auto.reset_range'] + common +
                   ['-e', 'reset_instances=1', '-e', 'kvm_auto_range_wait_for=none'], log)
    started, answered = [], []
    for guest in guests:
        now = qemu_process(guest)
        if now is None or before[guest] is None or now[0] == before[guest][0]:
            raise RuntimeError('%s was not started again by the reset (QEMU %s before, %s after)' % (guest, before[guest], now))
        started.append(now[1])
        answered.append(wait_for_agent(guest))
    return playbook, max(started) - start, max(answered) - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--instances', type=int, choices=(1, 2), default=1, help='instances in the range (default 1)')
    parser.add_argument('--resets', type=int, default=2, help='resets of instance 1 to time (default 2)')
    args = parser.parse_args()
    for sub in ('build', 'images', 'disks', 'ranges'):
        os.makedirs(os.path.join(WORK, sub), exist_ok=True)
    for sub in ('', 'images', 'disks'):
        os.chmod(os.path.join(WORK, sub), 0o711)  # libvirt's qemu user reads the images and disks
    log = os.path.join(tempfile.gettempdir(), 'bench_reset.log')
    open(log, 'w').close()
    common = ['-e', '@' + write_settings(args.instances)]
    try:
        print('cold deploy of range %d, %d instance(s) (log: %s) ...' % (RANGE_ID, args.instances, log), flush=True)
        cold = run(['ansible-playbook', 'cyris.kvm_auto.deploy_range'] + common, log)
        with open(os.path.join(WORK, 'ranges', 'range_details-cr%d.yml' % RANGE_ID)) as handle:
            details = yaml.safe_load(handle)
        timings = details.get('timings') or {}
        guests = sorted(d['name'] for g in details['guests'] for d in g['domains'] if d['instance'] == 1)
        resets = []
        for number in range(args.resets):
            print('reset %d of instance 1 (%s) ...' % (number + 1, ', '.join(guests)), flush=True)
            resets.append(reset_once(common, guests, log))

        print()
        print('range %d: %d instance(s) of %d guests, one image, virt type %s, %d cores' % (
            RANGE_ID, args.instances, len(guests), os.environ.get('KVM_AUTO_VIRT_TYPE') or 'qemu', os.cpu_count()))
        columns = ''.join('%10s' % ('reset %d' % (n + 1)) for n in range(len(resets)))
        print('%-44s%10s%s' % ('seconds', 'cold', columns))
        none = [None] * len(resets)
        rows = (
            ('whole playbook', cold, [r[0] for r in resets]),
            ('  image build', timings.get('build'), none),
            ('  create+boot (until the agents answer)', timings.get('create_and_boot'), none),
            ('  host work (until the guests are started)', None, [r[1] for r in resets]),
            ('until the guests answer their agents', cold, [r[2] for r in resets]),
        )
        for label, first, others in rows:
            print('%-44s%s%s' % (label, cell(first), ''.join(cell(v) for v in others)))
        print('Times count from the start of each playbook; host work ends when the last guest of instance 1')
        print('runs again (its new QEMU process). The resets do not wait for the guests (wait_for none).')
    finally:
        print('cleaning up ...', flush=True)
        subprocess.run(['ansible-playbook', 'cyris.kvm_auto.destroy_range'] + common + ['-e', 'kvm_auto_range_purge_images=true'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(WORK, ignore_errors=True)


def cell(value):
    return '%10s' % ('-' if value is None else '%.1f' % value)


if __name__ == '__main__':
    main()
