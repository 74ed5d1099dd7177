#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the range role scales, in one run: the two benchmarks of issue "scale", one after the other.

* bench_rerun.py: a no-change rerun at two range sizes, and the per-guest slope (goal <= 0.3 s);
* bench_transfer.py: bytes and seconds of one placement on a rate-limited link with and without
  compression (goal <= 0.5x the allocated size), and the distribution to 1, 2, 4, 8 simulated
  hosts, controller push against fan-out, in link-times (goal <= 4.5 for 8 hosts).

    . scripts/env.sh && python benchmarks/bench_scale.py --image BUILT.qcow2 [--sizes 2 20] [--rate 100mbit]

Each part prints its own figures as it goes; this script runs them in turn (they need the machine
to themselves: run nothing else meanwhile) and stops at the first that fails. About 15 minutes
on 2 cores without KVM. Needs what both need: root, libvirt, iproute2, openssh-server, rsync.
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(script, args):
    """Run one benchmark of this directory with ``args``; return its exit status."""
    print('== %s %s' % (script, ' '.join(args)), flush=True)
    start = time.monotonic()
    status = subprocess.call([sys.executable, os.path.join(HERE, script)] + args)
    print('== %s: exit %d after %.0f s' % (script, status, time.monotonic() - start), flush=True)
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--image', required=True, help='a built image for the transfers (only read)')
    parser.add_argument('--sizes', type=int, nargs=2, default=[2, 20], metavar=('SMALL', 'LARGE'),
                        help='guest counts of the two rerun sizes (default 2 20)')
    parser.add_argument('--rate', default='100mbit', help='each simulated host link, as tc writes it')
    parser.add_argument('--hosts', default='1,2,4,8', help='host counts of the distribution runs')
    args = parser.parse_args()
    for script, script_args in (
            ('bench_rerun.py', ['--sizes', str(args.sizes[0]), str(args.sizes[1])]),
            ('bench_transfer.py', ['--image', args.image, '--rate', args.rate, '--hosts', args.hosts])):
        status = run(script, script_args)
        if status:
            return status
    return 0


if __name__ == '__main__':
    sys.exit(main())
