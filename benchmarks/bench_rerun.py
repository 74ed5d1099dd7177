#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measure what a rerun that changes nothing costs per guest.

Deploys range 76 on this machine twice, with ``--sizes`` guests (default 2, then 8), and times
``--reruns`` reruns of playbooks/deploy_range.yml at each size, each of which must report
changed=0. Prints the median rerun of each size, the per-guest slope between them (goal <= 0.3 s)
and the fixed part it leaves.

The guests are as small as a guest can be, so that the reruns are timed, not the guests: one
base VM (``basevm_type: kvm``) whose disk is an empty 16 MiB qcow2, 256 MiB of memory (the least a range allows), no
graphics, no wait for a boot; no image is built. Run as root from a checkout with
``. scripts/env.sh`` sourced; with software emulation on 2 cores it takes about 2.5 minutes (2 and 8 guests)
and cleans up after itself.
Environment: KVM_AUTO_VIRT_TYPE (default qemu), KVM_AUTO_TEMPLATE_REPO, KVM_AUTO_RERUN_BENCH_DIR (default /var/tmp/kvm-auto-rerun-bench).
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time

import yaml

WORK = os.environ.get('KVM_AUTO_RERUN_BENCH_DIR', '/var/tmp/kvm-auto-rerun-bench')
RANGE_ID = 76
BASE_XML = '''<domain type="qemu">
  <name>kvm-auto-rerun-bench-base</name>
  <memory unit="MiB">256</memory>
</domain>
'''


def run(argv, log):
    """Run a command, its output appended to ``log``; return (seconds taken, its output)."""
    start = time.time()
    out = subprocess.run(argv, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    seconds = time.time() - start
    with open(log, 'a') as handle:
        handle.write(out.stdout)
    if out.returncode != 0:
        raise RuntimeError('%s failed (rc=%d), see %s' % (' '.join(argv), out.returncode, log))
    return seconds, out.stdout


def write_range(guests):
    """The range file of ``guests`` clones of the tiny guest on one network, and the role variables."""
    base = os.path.join(WORK, 'base', 'tiny')
    the_range = [
        {'host_settings': [{'id': 'host_1', 'mgmt_addr': 'localhost', 'account': 'root'}]},
        {'guest_settings': [{'id': 'tiny', 'basevm_type': 'kvm', 'basevm_host': 'host_1',
                             'basevm_config_file': base + '.xml', 'vcpus': 1, 'memory': 256, 'graphics_type': 'none'}]},
        {'clone_settings': [{'range_id': RANGE_ID, 'hosts': [{
            'host_id': 'host_1', 'instance_number': 1, 'guests': [{'guest_id': 'tiny', 'number': guests}],
            'topology': [{'type': 'custom', 'networks': [{'name': 'office', 'members': 'tiny.eth0'}]}]}]}]},
    ]
    range_file = os.path.join(WORK, 'range.yml')
    with open(range_file, 'w') as handle:
        yaml.safe_dump(the_range, handle, sort_keys=False)
    repo = os.environ.get('KVM_AUTO_TEMPLATE_REPO') or '/var/lib/cyris-kvm-auto/templates'
    settings = {
        'range_file': range_file,
        'kvm_auto_range_virt_type': os.environ.get('KVM_AUTO_VIRT_TYPE') or 'qemu',
        # The role lists the templates even for a range without a build.
        'kvm_auto_range_virt_builder_config_dir': repo + '/config',
        'kvm_auto_range_check_signature': False,
        'kvm_auto_range_build_dir': WORK + '/build',
        'kvm_auto_range_image_dir': WORK + '/images',
        'kvm_auto_range_disk_dir': WORK + '/disks',
        'kvm_auto_range_details_dir': WORK + '/ranges',
        'kvm_auto_range_wait_for': 'none',
    }
    path = os.path.join(WORK, 'vars.yml')
    with open(path, 'w') as handle:
        yaml.safe_dump(settings, handle)
    return ['-e', '@' + path]


def changed(output):
    """The changed= counts of the play recap."""
    return [int(n) for n in re.findall(r'^\S+\s+: ok=\d+\s+changed=(\d+)', output, re.M)]


def median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--sizes', type=int, nargs=2, default=[2, 8], metavar=('SMALL', 'LARGE'),
                        help='guests in the two ranges (default 2 8)')
    parser.add_argument('--reruns', type=int, default=3, help='timed reruns at each size (default 3)')
    args = parser.parse_args()
    small, large = sorted(args.sizes)
    for sub in ('base', 'build', 'images', 'disks', 'ranges'):
        os.makedirs(os.path.join(WORK, sub), exist_ok=True)
    for sub in ('', 'base', 'images', 'disks'):
        os.chmod(os.path.join(WORK, sub), 0o711)  # libvirt's qemu user reads the images and disks
    base = os.path.join(WORK, 'base', 'tiny')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', base, '16M'], check=True)
    with open(base + '.xml', 'w') as handle:
        handle.write(BASE_XML)
    log = os.path.join(tempfile.gettempdir(), 'bench_rerun.log')
    open(log, 'w').close()
    started = time.time()
    reruns = {}
    try:
        for size in (small, large):
            common = write_range(size)
            print('deploy of range %d with %d guests (log: %s) ...' % (RANGE_ID, size, log), flush=True)
            run(['ansible-playbook', 'cyris.kvm_auto.deploy_range'] + common, log)
            reruns[size] = []
            for dummy in range(args.reruns):
                seconds, output = run(['ansible-playbook', 'cyris.kvm_auto.deploy_range'] + common, log)
                if any(changed(output)) or not changed(output):
                    raise RuntimeError('a rerun of %d guests changed something (recap changed=%s), see %s' % (
                        size, changed(output), log))
                reruns[size].append(seconds)
        slope = (median(reruns[large]) - median(reruns[small])) / float(large - small)
        print()
        print('range %d: one KVM host (this machine), one tiny base VM, virt type %s, %d cores' % (
            RANGE_ID, os.environ.get('KVM_AUTO_VIRT_TYPE') or 'qemu', os.cpu_count()))
        for size in (small, large):
            print('rerun, %2d guests : median %5.1f s  (%s)' % (
                size, median(reruns[size]), ', '.join('%.1f' % s for s in reruns[size])))
        print('per guest        : %5.2f s (goal <= 0.3 s)' % slope)
        print('fixed part       : %5.1f s (goal <= 15 s)' % (median(reruns[small]) - small * slope))
    finally:
        print('cleaning up ...', flush=True)
        subprocess.run(['ansible-playbook', 'cyris.kvm_auto.destroy_range'] + write_range(large),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(WORK, ignore_errors=True)
        print('took %.0f s' % (time.time() - started))


if __name__ == '__main__':
    main()
