# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whole runs of kvm_auto_access: real AnsibleModule, real files in a temporary directory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import io
import json
import os
import stat

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import is_sha512_crypt
from ansible_collections.cyris.kvm_auto.plugins.module_utils._password_hash import sha512_crypt
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_access import PLACEHOLDER_HASH, AccessRun
from ansible_collections.cyris.kvm_auto.plugins.modules.kvm_auto_access import argument_spec

ENTRIES = [
    {'instance': 1, 'guest': 'desktop_cr42_1_1', 'host': 'host_1', 'address': '192.0.2.10', 'account': 'trainee01'},
    {'instance': 2, 'guest': 'desktop_cr42_2_1', 'host': 'host_1', 'address': '192.0.2.10', 'account': 'trainee02'},
]
HOSTS = {'host_1': {'listening': [22, 60000], 'running': []}}


@pytest.fixture
def args(tmp_path):
    return {'range_id': '42', 'state_file': str(tmp_path / 'range_access-cr42.yml'),
            'notification_file': str(tmp_path / 'range_notification-cr42.txt'),
            'entries': ENTRIES, 'hosts': HOSTS}


def run(args, check_mode=False, diff=True):
    """Run the module; return (result, everything it printed)."""
    stdout = io.StringIO()
    with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)):
        module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
        with contextlib.redirect_stdout(stdout):
            with pytest.raises(SystemExit):
                AccessRun(module).run()
    result = json.loads(stdout.getvalue())
    result.pop('invocation', None)  # ansible-core 2.19 returns it, 2.21 does not
    return result, stdout.getvalue()


def recorded(args):
    with open(args['state_file']) as handle:
        return json.load(handle)


def test_check_mode_before_the_directory_exists(args, tmp_path):
    missing = str(tmp_path / 'nowhere' / 'range_notification-cr42.txt')
    result, dummy = run(dict(args, notification_file=missing), check_mode=True)
    assert result['changed'] is True and 'failed' not in result
    assert [a['port'] for a in result['access']] == [60001, 60002]
    assert not os.path.exists(os.path.dirname(missing))


def files_of(tmp_path):
    return sorted(os.listdir(str(tmp_path)))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_check_real_rerun(args, tmp_path):
    result, dummy = run(args, check_mode=True)
    assert result['changed'] is True and 'failed' not in result
    assert files_of(tmp_path) == []
    assert [a['port'] for a in result['access']] == [60001, 60002]
    assert [a['password_hash'] for a in result['accounts'].values()] == [PLACEHOLDER_HASH] * 2
    assert result['diff']['after']['files'] == {'state_file': 'mode 0600, up to date',
                                                'notification_file': 'mode 0600, up to date'}
    assert result['diff']['before']['files'] == {'state_file': 'absent', 'notification_file': 'absent'}

    result, output = run(args)
    assert result['changed'] is True
    assert files_of(tmp_path) == ['range_access-cr42.yml', 'range_notification-cr42.txt']
    assert mode(args['state_file']) == mode(args['notification_file']) == 0o600
    state = recorded(args)
    assert state['range_id'] == '42'
    assert [(i['instance'], i['port'], i['account']) for i in state['instances']] == [
        (1, 60001, 'trainee01'), (2, 60002, 'trainee02')]
    assert result['access'] == [dict(e, port=p) for e, p in zip(ENTRIES, (60001, 60002))]
    for instance in state['instances']:
        assert result['accounts'][instance['guest']] == {
            'name': instance['account'], 'sudo': True,
            'password_hash': sha512_crypt(instance['password'], instance['salt'])}
        assert instance['password'] not in output
    with open(args['notification_file']) as handle:
        notification = handle.read()
    assert '  Login: ssh trainee02@192.0.2.10 -p 60002\n  Password: %s\n' % state['instances'][1]['password'] \
        in notification
    assert [i['password'] for i in result['diff']['after']['instances']] == ['new', 'new']

    stamps = [os.stat(args[f]).st_mtime_ns for f in ('state_file', 'notification_file')]
    hosts = {'host_1': {'listening': [22, 60000, 60001, 60002], 'running': ['desktop_cr42_1_1', 'desktop_cr42_2_1']}}
    for check_mode in (True, False):
        again, output = run(dict(args, hosts=hosts), check_mode=check_mode)
        assert again['changed'] is False
        assert again['accounts'] == result['accounts']  # in check mode too: recorded hashes are real
        assert again['diff']['before'] == again['diff']['after']
    assert [os.stat(args[f]).st_mtime_ns for f in ('state_file', 'notification_file')] == stamps
    assert recorded(args) == state


def test_hashes_are_what_guest_identities_take(args):
    for check_mode in (True, False):
        result, dummy = run(args, check_mode=check_mode)
        assert all(is_sha512_crypt(a['password_hash']) for a in result['accounts'].values())


def test_dropping_and_adding_instances(args):
    run(args)
    first = recorded(args)['instances']
    third = dict(ENTRIES[0], instance=3, guest='desktop_cr42_3_1', account='trainee03')
    result, dummy = run(dict(args, entries=[ENTRIES[1], third]))
    assert result['changed'] is True
    state = recorded(args)['instances']
    assert [(i['instance'], i['port']) for i in state] == [(2, 60002), (3, 60001)]
    assert state[0] == first[1]
    assert [i['password'] for i in result['diff']['before']['instances']] == ['recorded', 'recorded']
    after = result['diff']['after']['instances']
    assert [(i['instance'], i['password']) for i in after] == [(2, 'recorded'), (3, 'new')]


def test_mode_is_restored_without_rewriting(args):
    run(args)
    os.chmod(args['notification_file'], 0o644)
    inode = os.stat(args['notification_file']).st_ino
    result, dummy = run(args)
    assert result['changed'] is True
    assert result['diff']['before']['files']['notification_file'] == 'mode 0644, up to date'
    assert (mode(args['notification_file']), os.stat(args['notification_file']).st_ino) == (0o600, inode)


def test_lost_notification_is_written_from_the_state(args):
    run(args)
    with open(args['notification_file']) as handle:
        notification = handle.read()
    os.unlink(args['notification_file'])
    result, dummy = run(args)
    assert result['changed'] is True
    with open(args['notification_file']) as handle:
        assert handle.read() == notification


def test_errors_all_at_once_and_nothing_written(args, tmp_path):
    run(args)
    state = recorded(args)
    before = {f: os.stat(args[f]).st_mtime_ns for f in ('state_file', 'notification_file')}
    third = dict(ENTRIES[0], instance=3, guest='desktop_cr42_3_1', account='trainee03')
    result, output = run(dict(args, entries=ENTRIES + [third], ports='60001-60002',
                              hosts={'host_1': {'listening': [60001], 'running': []}}))
    assert result['failed'] is True
    assert result['errors'] == [
        'instance 1 (desktop_cr42_1_1): port 60001 on host_1 is in use by another program: free it or choose other '
        'ports (kvm_auto_range_trainee_ports)',
        'host_1: trainee ports 60001-60002 have 0 free ports there, but 1 instance needs one (3): choose a wider '
        'port range (kvm_auto_range_trainee_ports) or free ports on host_1',
    ]
    assert result['msg'] == 'range 42: ' + '; '.join(result['errors'])
    assert {f: os.stat(args[f]).st_mtime_ns for f in ('state_file', 'notification_file')} == before
    assert all(i['password'] not in output for i in state['instances'])


def test_option_errors_and_missing_directory(args, tmp_path):
    missing = str(tmp_path / 'nowhere' / 'range_notification-cr42.txt')
    result, dummy = run(dict(args, ports='100-200', password_length=6, notification_file=missing))
    assert result['errors'] == [
        'ports: %r is not a port range FIRST-LAST with 1024 <= FIRST <= LAST <= 65535 '
        '(kvm_auto_range_trainee_ports)' % '100-200',
        'password_length: 6 is not between 10 and 128',
        'notification_file: the directory of %s does not exist: create it first' % missing,
    ]
    assert files_of(tmp_path) == []


def test_same_path_for_both_files(args):
    result, dummy = run(dict(args, notification_file=args['state_file']))
    assert result['errors'] == ['notification_file: it is the state_file; give each its own path']


def test_broken_state_file_is_kept(args):
    with open(args['state_file'], 'w') as handle:
        handle.write('{"range_id": "43", "instances": []}\n')
    result, dummy = run(args)
    assert result['errors'] == ['state_file: it records range 43, not range 42: fix it, or remove it to give every '
                                'trainee a new password and port']
    with open(args['state_file']) as handle:
        assert '"43"' in handle.read()


def test_password_length_and_sudo(args):
    result, dummy = run(dict(args, password_length=40, entries=[dict(ENTRIES[0], sudo=False), ENTRIES[1]]))
    assert [len(i['password']) for i in recorded(args)['instances']] == [40, 40]
    assert [a['sudo'] for a in result['accounts'].values()] == [False, True]
    assert result['access'] == [dict(e, port=p) for e, p in zip(ENTRIES, (60001, 60002))]


def test_absent(args, tmp_path):
    run(args)
    result, dummy = run(dict(args, state='absent', entries=[]), check_mode=True)
    assert result['changed'] is True
    assert len(files_of(tmp_path)) == 2
    assert result['diff']['after']['files'] == {'state_file': 'absent', 'notification_file': 'absent'}
    result, dummy = run(dict(args, state='absent', entries=[]))
    assert (result['changed'], result['accounts'], result['access']) == (True, {}, [])
    assert files_of(tmp_path) == []
    result, dummy = run(dict(args, state='absent', entries=[]))
    assert result['changed'] is False
