#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What topology networks add to a range deployment, per network and per guest.

Prints:

* planning: the plan of the DMZ range of the unit corpus (2 instances, 2 networks each, 8
  guests) with and without its topology, per run (pure Python);
* networks: kvm_auto_network through ansible-playbook creating N isolated networks on this
  machine's libvirtd (cold), the rerun with nothing to do, and their removal, per network;
* per guest: the identity adds one fw_cfg entry to the domain definition (no host work of its
  own) and one boot service in the guest: with ``--guest DOMAIN`` (a running guest of a
  deployed range) it prints how long ``kvm-auto-identity.service`` took in that guest's last
  boot (systemd-analyze, through the guest agent).

Run as root from a checkout with ``. scripts/env.sh`` sourced:
``python benchmarks/bench_networks.py [--networks 8] [--guest pc_cr77_1_1]`` (about a minute).
"""

from __future__ import absolute_import, division, print_function

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DMZ = os.path.join(ROOT, 'tests', 'unit', 'data', 'ranges', 'good', 'topology_dmz.yml')

PLAY = '''
- name: Networks
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The benchmark's networks
      cyris.kvm_auto.kvm_auto_network:
        name: "kvmauto-bench-{{ item }}"
        bridge: "kvbench{{ item }}"
        owner: bench
        state: "{{ state }}"
      loop: "{{ range(count | int) | list }}"
'''


def plan_seconds(with_topology, rounds=50):
    sys.path.insert(0, os.path.join(tempfile.gettempdir(), 'cyris-kvm-auto-unit-%d' % os.getuid()))
    from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_plan import plan_range  # noqa: E402
    with open(DMZ) as handle:
        data = yaml.safe_load(handle)
    if not with_topology:
        block = data[2]['clone_settings'][0]['hosts'][0]
        del block['topology']
        for guest in block['guests']:
            guest.pop('forwarding_rules', None)
    start = time.perf_counter()
    for _round in range(rounds):
        plan = plan_range(data, templates={'debian-12': 6 * 1024 ** 3}, salt='bench')
    return (time.perf_counter() - start) / rounds, plan


def playbook_seconds(play, state, count):
    start = time.perf_counter()
    done = subprocess.run(['ansible-playbook', play, '-e', 'state=%s' % state, '-e', 'count=%d' % count],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit('ansible-playbook failed:\n' + done.stdout[-3000:] + done.stderr[-3000:])
    return time.perf_counter() - start


def identity_service_time(domain):
    command = json.dumps({'execute': 'guest-exec', 'arguments': {
        'path': '/bin/sh', 'arg': ['-c', 'systemd-analyze blame | grep kvm-auto-identity'], 'capture-output': True}})
    out = subprocess.run(['virsh', 'qemu-agent-command', domain, command], capture_output=True, text=True, check=True).stdout
    pid = json.loads(out)['return']['pid']
    for _try in range(50):
        status = json.loads(subprocess.run(
            ['virsh', 'qemu-agent-command', domain, json.dumps({'execute': 'guest-exec-status', 'arguments': {'pid': pid}})],
            capture_output=True, text=True, check=True).stdout)['return']
        if status['exited']:
            return base64.b64decode(status.get('out-data', '')).decode().strip()
        time.sleep(0.2)
    return 'no answer'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--networks', type=int, default=8)
    parser.add_argument('--guest', help='a running guest of a deployed topology range')
    args = parser.parse_args()

    bare, plain_plan = plan_seconds(False)
    topo, plan = plan_seconds(True)
    print('planning (%d guests): without topology %.1f ms, with %d networks %.1f ms: +%.2f ms per network' % (
        len(plan['vms']), bare * 1000, len(plan['networks']), topo * 1000,
        (topo - bare) * 1000 / len(plan['networks'])))
    assert len(plain_plan['vms']) == len(plan['vms'])

    with tempfile.TemporaryDirectory() as work:
        play = os.path.join(work, 'networks.yml')
        with open(play, 'w') as handle:
            handle.write(PLAY)
        empty = playbook_seconds(play, 'present', 0)
        cold = playbook_seconds(play, 'present', args.networks)
        rerun = playbook_seconds(play, 'present', args.networks)
        gone = playbook_seconds(play, 'absent', args.networks)
    n = args.networks
    print('kvm_auto_network, %d networks (ansible-playbook floor with none: %.1f s):' % (n, empty))
    print('  create : %5.1f s = %.2f s per network' % (cold, (cold - empty) / n))
    print('  rerun  : %5.1f s = %.2f s per network' % (rerun, (rerun - empty) / n))
    print('  remove : %5.1f s = %.2f s per network' % (gone, (gone - empty) / n))
    print('per guest: the identity is one fw_cfg entry in the domain definition: no host work of its own')
    if args.guest:
        print('  %s: kvm-auto-identity.service in its last boot: %s' % (args.guest, identity_service_time(args.guest)))


if __name__ == '__main__':
    main()
