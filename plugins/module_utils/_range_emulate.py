# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""What each clone runs after its first boot: its after_clone programs and runtime tasks, as steps.

Validation (_range_tasks.after_boot_tasks) lists a guest's after-boot work in task order; once the
networks are planned, ``clone_steps`` makes it the steps of one clone, which kvm_auto_guest_exec
runs through the guest agents, once per clone (the marker in the clone holds their digest):

* an after_clone program stays ``{label, argv}``;
* ``emulate_attack`` becomes ``{label, argv, guest}``: a program run in another guest, the
  attacker, that makes ``attempt_number`` SSH logins with a wrong password against the clone.
  The attacker is the first kvm-auto guest of the plan, in the clone's instance, that shares a
  topology network with it; the logins go to the clone's address on the first network they share;
* ``emulate_traffic_capture_file`` becomes ``{label, capture, path}``: the deploy and reset steps
  make the file (_traffic_capture) and hand it over as ``{label, file: {path, content, mode}}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import show
from ansible_collections.cyris.kvm_auto.plugins.module_utils._traffic_capture import capture_file, scapy_missing

CAPTURE_MODE = '0644'
# Seconds the attacker waits at most for the target's sshd (it starts late on a first boot).
SSHD_WAIT = 180

# Run by ``sh -c`` in the attacker: sh TARGET ACCOUNT COUNT WAIT. Each attempt is one connection
# with one password prompt that an askpass program answers with a new random password; a failed
# login leaves one "Failed password" line in the target's authentication log. Answers other than
# a refusal (no sshd yet, no route) are retried until WAIT seconds have passed.
ATTACK_SCRIPT = r'''target=$1 account=$2 count=$3 wait=$4
command -v ssh >/dev/null || { echo "no ssh client in this guest: install openssh-client" >&2; exit 1; }
askpass=$(mktemp) || exit 1
trap 'rm -f "$askpass"' EXIT
printf '#!/bin/sh\nod -An -N12 -tx1 /dev/urandom | tr -d " \\n"\n' >"$askpass"
chmod 0700 "$askpass"
made=0
deadline=$(( $(date +%s) + wait ))
while [ "$made" -lt "$count" ]; do
  out=$(SSH_ASKPASS="$askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none ssh -n -T \
    -o BatchMode=no -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
    -o ConnectTimeout=10 -o NumberOfPasswordPrompts=1 -o PreferredAuthentications=password \
    -o PubkeyAuthentication=no -- "$account@$target" true 2>&1 </dev/null)
  case $out in
    *'Permission denied'*password*) made=$((made + 1)) ;;
    *'Permission denied'*) echo "sshd on $target does not take passwords: $out" >&2; exit 1 ;;
    *)
      if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "sshd on $target did not answer within $wait s: $out" >&2
        exit 1
      fi
      sleep 2 ;;
  esac
done
echo "$made failed logins as $account on $target"
'''


def attack_argv(address, account, attempts, wait=SSHD_WAIT):
    """The program the attacker runs: ATTACK_SCRIPT against ``account`` at ``address``."""
    return ['/bin/sh', '-c', ATTACK_SCRIPT, 'emulate_attack', address, account, '%d' % int(attempts), '%d' % wait]


def attacker_of(vm, vms):
    """(attacker vm, the address of ``vm`` it attacks) or (None, None): the first other kvm-auto guest of
    ``vms`` in ``vm``'s instance with a NIC on a network of ``vm``; the address is ``vm``'s on the
    first such network in ``vm``'s NIC order."""
    for other in vms:
        if other is vm or other['basevm_type'] != 'kvm-auto' or other.get('instance') != vm.get('instance'):
            continue
        networks = set(nic['network'] for nic in other.get('nics') or ())
        for nic in vm.get('nics') or ():
            if nic['network'] in networks:
                return other, nic['address']
    return None, None


def capture_spec(range_id, vm, label, params):
    """What _traffic_capture needs to make the file of one capture task of ``vm``."""
    nic = (vm.get('nics') or [None])[0]
    return {
        'seed': '%s/%s/%s' % (range_id, vm['name'], label),
        'noise_level': params['noise_level'],
        'attack_type': params['attack_type'],
        'attack_source': params.get('attack_source'),
        # A guest outside any topology has a DHCP address nobody knows when planning.
        'guest_address': nic['address'] if nic else '192.168.122.10',
        'guest_mac': nic['mac'] if nic else '52:54:00:c0:a8:0a',
        'gateway': vm.get('gateway'),
    }


def clone_steps(range_id, vm, vms):
    """(steps, errors, warnings) of ``vm`` from its after-boot work (``vm['after_clone']``)."""
    steps, errors, warnings = [], [], []
    for work in vm.get('after_clone') or ():
        label = work['label']
        if 'emulate_attack' in work:
            params = work['emulate_attack']
            attacker, address = attacker_of(vm, vms)
            if attacker is None:
                errors.append('domain %s: %s: no other kvm-auto guest of its instance shares a topology network '
                              'with it, to make the login attempts from' % (vm['name'], label))
                continue
            if params.get('attack_time'):
                warnings.append('%s.attack_time: %s is not applied: the login attempts are made when the range is '
                                'deployed, at the time of the guests\' clocks' % (label, show(params['attack_time'])))
            steps.append({'label': label, 'guest': attacker['name'],
                          'argv': attack_argv(address, params['target_account'], params['attempt_number'])})
        elif 'emulate_traffic_capture_file' in work:
            params = work['emulate_traffic_capture_file']
            if scapy_missing():
                errors.append('domain %s: %s: making the capture file needs the Python package scapy on the '
                              'controller (pip install scapy)' % (vm['name'], label))
                continue
            steps.append({'label': label, 'path': params['file_name'],
                          'capture': capture_spec(range_id, vm, label, params)})
        else:
            steps.append(work)
    return steps, errors, sorted(set(warnings))


def attacked(vm):
    """Whether ``vm`` is the target of an emulate_attack (its image needs an SSH server)."""
    return any('emulate_attack' in work for work in vm.get('after_clone') or ())


def handed_over(steps):
    """``steps`` as kvm_auto_guest_exec takes them: each capture made into its file's content."""
    out = []
    for step in steps:
        if 'capture' in step:
            content = base64.b64encode(capture_file(step['capture'])).decode('ascii')
            step = {'label': step['label'], 'file': {'path': step['path'], 'content': content, 'mode': CAPTURE_MODE}}
        out.append(step)
    return out
