# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each clone's after-boot steps: the attacker and address of emulate_attack, the attack program
itself (run here against a fake ssh), and the capture files handed to kvm_auto_guest_exec."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import os
import subprocess

import pytest
import yaml

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _range_emulate
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import RangeError
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_deploy import after_clone_steps
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_emulate import attack_argv
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_plan import plan_range
from ansible_collections.cyris.kvm_auto.plugins.module_utils._traffic_capture import capture_file

EMULATE = os.path.join(os.path.dirname(__file__), '..', '..', 'data', 'ranges', 'good', 'emulate.yml')


def emulate_range():
    with open(EMULATE) as handle:
        return yaml.safe_load(handle)


def guest_of(data, guest_id):
    return next(g for g in data[1]['guest_settings'] if g['id'] == guest_id)


def vm_of(plan, name):
    return next(vm for vm in plan['vms'] if vm['name'] == name)


def test_the_attack_comes_from_the_first_guest_sharing_a_network_of_its_instance():
    plan = plan_range(emulate_range())
    for instance in (1, 2):
        server = vm_of(plan, 'server_cr125_%d_1' % instance)
        address = next(nic['address'] for nic in server['nics'] if nic['cyris_network'] == 'servers')
        assert server['after_clone'] == [{
            'label': 'guest_settings[1] (id=server).tasks[1].emulate_attack[0]',
            'guest': 'firewall_cr125_%d_1' % instance,
            'argv': attack_argv(address, 'daniel', 200),
        }]


def test_an_attack_target_needs_an_ssh_server_in_its_image():
    plan = plan_range(emulate_range())
    server_image = vm_of(plan, 'server_cr125_1_1')['image']
    assert [i['require_ssh'] for i in plan['images'] if i['name'] == server_image] == [True]


@pytest.mark.parametrize('attack_time', ['2017-11-18', datetime.date(2017, 11, 18), 20171118])
def test_attack_time_is_accepted_and_said_not_to_be_applied(attack_time):
    data = emulate_range()
    guest_of(data, 'server')['tasks'][1]['emulate_attack'][0]['attack_time'] = attack_time
    warnings = plan_range(data)['warnings']
    assert len(warnings) == 1
    assert warnings[0].startswith('guest_settings[1] (id=server).tasks[1].emulate_attack[0].attack_time: ')
    assert warnings[0].endswith('is not applied: the login attempts are made when the range is deployed, '
                                "at the time of the guests' clocks")


def test_a_guest_with_no_neighbour_in_its_instance_cannot_be_attacked():
    data = emulate_range()
    # The desktop's only neighbour is the firewall; the clone of one instance never attacks another's.
    guest_of(data, 'desktop')['tasks'].append({'emulate_attack': [
        {'attack_type': 'ssh_attack', 'target_account': 'root', 'attempt_number': 3}]})
    data[2]['clone_settings'][0]['hosts'][0]['guests'] = [
        {'guest_id': 'desktop', 'number': 1, 'entry_point': True}, {'guest_id': 'server', 'number': 1}]
    data[2]['clone_settings'][0]['hosts'][0]['topology'][0]['networks'] = [
        {'name': 'office', 'members': 'desktop.eth0'}, {'name': 'servers', 'members': 'server.eth0'}]
    with pytest.raises(RangeError) as caught:
        plan_range(data)
    message = ('domain %s_cr125_%d_1: guest_settings[%d] (id=%s).tasks[%d].emulate_attack[0]: no other kvm-auto guest '
               'of its instance shares a topology network with it, to make the login attempts from')
    assert sorted(caught.value.errors) == sorted(
        message % (guest, instance, pos, guest, task)
        for instance in (1, 2) for guest, pos, task in (('desktop', 0, 1), ('server', 1, 1)))


def test_each_clone_gets_its_own_capture_file_the_same_on_every_run():
    plan = plan_range(emulate_range())
    steps = dict((s['name'], s['programs']) for s in after_clone_steps(plan))
    first, second = steps['desktop_cr125_1_1'], steps['desktop_cr125_2_1']
    assert [p['label'] for p in first] == ['guest_settings[0] (id=desktop).tasks[0].emulate_traffic_capture_file[0]']
    assert first[0]['file']['path'] == '/home/trainee/traffic1.pcap' and first[0]['file']['mode'] == '0644'
    assert first[0]['file']['content'] != second[0]['file']['content']
    assert after_clone_steps(plan_range(emulate_range()), ['desktop_cr125_1_1'])[0]['programs'] == first
    spec = vm_of(plan, 'desktop_cr125_1_1')['after_clone'][0]['capture']
    assert base64.b64decode(first[0]['file']['content']) == capture_file(spec)
    desktop = vm_of(plan, 'desktop_cr125_1_1')['nics'][0]
    assert spec == {'seed': '125/desktop_cr125_1_1/guest_settings[0] (id=desktop).tasks[0].emulate_traffic_capture_file[0]',
                    'noise_level': 'medium', 'attack_type': 'ssh_attack', 'attack_source': '69.89.31.226',
                    'guest_address': desktop['address'], 'guest_mac': desktop['mac'],
                    'gateway': vm_of(plan, 'desktop_cr125_1_1')['gateway']}


def test_without_scapy_a_capture_task_fails_before_any_change(monkeypatch):
    monkeypatch.setattr(_range_emulate, 'scapy_missing', lambda: True)
    with pytest.raises(RangeError) as caught:
        plan_range(emulate_range())
    assert caught.value.errors == [
        'domain desktop_cr125_%d_1: guest_settings[0] (id=desktop).tasks[0].emulate_traffic_capture_file[0]: making '
        'the capture file needs the Python package scapy on the controller (pip install scapy)' % instance
        for instance in (1, 2)]


# ---------------------------------------------------------------- the attack program, against a fake ssh

FAKE_SSH = '''#!/bin/sh
# Records its arguments and the password its askpass program gives, then answers as told.
echo "$* password=$("$SSH_ASKPASS")" >> "$FAKE_SSH_LOG"
n=$(wc -l < "$FAKE_SSH_LOG")
if [ "$n" -le "${FAKE_SSH_DOWN:-0}" ]; then echo "ssh: connect to host $5 port 22: Connection refused" >&2; exit 255; fi
echo "${FAKE_SSH_ANSWER:-root@target: Permission denied (publickey,password).}" >&2
exit 255
'''


def run_attack(tmp_path, attempts, wait=30, **env):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'ssh').write_text(FAKE_SSH)
    (bin_dir / 'ssh').chmod(0o755)
    (bin_dir / 'sleep').write_text('#!/bin/sh\n')  # no real waits between retries
    (bin_dir / 'sleep').chmod(0o755)
    log = tmp_path / 'ssh.log'
    log.write_text('')
    environment = dict(os.environ, PATH='%s:%s' % (bin_dir, os.environ['PATH']), FAKE_SSH_LOG=str(log),
                       **dict((k, '%s' % v) for k, v in env.items()))
    done = subprocess.run(attack_argv('10.1.2.3', 'daniel', attempts, wait), env=environment, capture_output=True,
                          text=True, check=False)
    return done, log.read_text().splitlines()


def test_each_attempt_is_one_connection_with_a_new_wrong_password(tmp_path):
    done, calls = run_attack(tmp_path, 4)
    assert done.returncode == 0, done.stderr
    assert done.stdout == '4 failed logins as daniel on 10.1.2.3\n'
    assert len(calls) == 4
    for call in calls:
        assert '-o NumberOfPasswordPrompts=1 -o PreferredAuthentications=password' in call
        assert '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' in call
        assert ' -- daniel@10.1.2.3 true password=' in call
    passwords = [call.rsplit('password=', 1)[1] for call in calls]
    assert len(set(passwords)) == 4 and all(len(p) == 24 for p in passwords)


def test_the_attack_waits_for_sshd_without_counting_those_tries(tmp_path):
    done, calls = run_attack(tmp_path, 2, FAKE_SSH_DOWN=3)
    assert done.returncode == 0, done.stderr
    assert len(calls) == 5


@pytest.mark.parametrize('env, message', [
    ({'FAKE_SSH_DOWN': 1000}, 'sshd on 10.1.2.3 did not answer within 0 s: ssh: connect to host'),
    ({'FAKE_SSH_ANSWER': 'daniel@10.1.2.3: Permission denied (publickey).'},
     'sshd on 10.1.2.3 does not take passwords: daniel@10.1.2.3: Permission denied (publickey).'),
])
def test_an_attack_that_cannot_be_made_fails_saying_why(tmp_path, env, message):
    done, _calls = run_attack(tmp_path, 2, wait=0, **env)
    assert done.returncode == 1
    assert done.stderr.startswith(message)
