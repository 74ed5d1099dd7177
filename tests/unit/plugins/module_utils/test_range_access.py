# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The trainee access rules (ports, kept credentials), the notification text, the state file and
how the files are written."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _range_access
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_access import (
    AccessError, assign_access, bring_file, file_status, notification_text, parse_ports, parse_state, public_access,
    state_text, write_private)

FIRST, LAST = 60000, 60009


def entry(instance, host='host_1', guest=None, account=None, address='192.0.2.10'):
    return {'instance': instance, 'guest': guest or 'desktop_cr42_%d_1' % instance, 'host': host,
            'address': address, 'account': account or 'trainee%02d' % instance}


def recorded(instance, port, host='host_1', guest=None, password=None, salt=None):
    return dict(entry(instance, host, guest), port=port, password=password or 'pw%d' % instance,
                salt=salt or 'salt%d' % instance)


def idle(*listening, **kwargs):
    return {'listening': list(listening), 'running': kwargs.get('running', [])}


HOSTS = {'host_1': idle(22), 'host_2': idle(22)}


def ports_and_credentials(records):
    return [(r['instance'], r['host'], r['port'], r['password'], r['salt']) for r in records]


@pytest.mark.parametrize('entries, old, hosts, expected', [
    pytest.param([entry(1), entry(2)], [], HOSTS,
                 [(1, 'host_1', 60000, None, None), (2, 'host_1', 60001, None, None)], id='new-lowest-ports'),
    pytest.param([entry(1), entry(2)], [recorded(1, 60005), recorded(2, 60003)],
                 {'host_1': idle(22, 60005, 60003, running=['desktop_cr42_1_1', 'desktop_cr42_2_1'])},
                 [(1, 'host_1', 60005, 'pw1', 'salt1'), (2, 'host_1', 60003, 'pw2', 'salt2')], id='keep-running'),
    pytest.param([entry(1)], [recorded(1, 60005)], HOSTS, [(1, 'host_1', 60005, 'pw1', 'salt1')],
                 id='keep-stopped-guest-free-port'),
    pytest.param([entry(2), entry(1)], [recorded(2, 60000)], HOSTS,
                 [(1, 'host_1', 60001, None, None), (2, 'host_1', 60000, 'pw2', 'salt2')],
                 id='kept-port-not-given-to-lower-new-instance'),
    pytest.param([entry(1), entry(2), entry(3)], [recorded(2, 60001)], {'host_1': idle(22, 60000, 60002)},
                 [(1, 'host_1', 60003, None, None), (2, 'host_1', 60001, 'pw2', 'salt2'),
                  (3, 'host_1', 60004, None, None)], id='skip-listening-and-given'),
    pytest.param([entry(1, 'host_1'), entry(2, 'host_2'), entry(3, 'host_2')], [], HOSTS,
                 # Unique across the range: two inventory hosts may be one machine (the range e2e's are).
                 [(1, 'host_1', 60000, None, None), (2, 'host_2', 60001, None, None),
                  (3, 'host_2', 60002, None, None)], id='ports-unique-across-hosts'),
    pytest.param([entry(1, 'host_2')], [recorded(1, 60004, 'host_1')], HOSTS, [(1, 'host_2', 60000, None, None)],
                 id='moved-host-new'),
    pytest.param([entry(1, guest='other_cr42_1_1')], [recorded(1, 60004)], HOSTS,
                 [(1, 'host_1', 60000, None, None)], id='new-guest-new'),
    pytest.param([entry(1)], [recorded(1, 61000)], HOSTS, [(1, 'host_1', 60000, 'pw1', 'salt1')],
                 id='port-outside-range-moves-keeps-password'),
    pytest.param([entry(1), entry(2)], [recorded(1, 60004), recorded(2, 60004)], HOSTS,
                 [(1, 'host_1', 60004, 'pw1', 'salt1'), (2, 'host_1', 60000, 'pw2', 'salt2')],
                 id='recorded-twice-second-moves'),
    pytest.param([entry(1)], [recorded(1, 60000), recorded(2, 60001), recorded(3, 60002)], HOSTS,
                 [(1, 'host_1', 60000, 'pw1', 'salt1')], id='dropped-instances'),
])
def test_assignment(entries, old, hosts, expected):
    records, errors = assign_access(entries, old, FIRST, LAST, hosts)
    assert errors == []
    assert ports_and_credentials(records) == expected


def test_address_and_account_follow_the_entry_credentials_kept():
    records, errors = assign_access([entry(1, account='student1', address='kvm1.example.org')],
                                    [recorded(1, 60004)], FIRST, LAST, HOSTS)
    assert errors == []
    assert public_access(records) == [{'instance': 1, 'guest': 'desktop_cr42_1_1', 'host': 'host_1',
                                       'address': 'kvm1.example.org', 'port': 60004, 'account': 'student1'}]
    assert (records[0]['password'], records[0]['salt']) == ('pw1', 'salt1')


def test_port_taken_by_another_program():
    records, errors = assign_access([entry(1)], [recorded(1, 60000)], FIRST, LAST, {'host_1': idle(22, 60000)})
    assert errors == ['instance 1 (desktop_cr42_1_1): port 60000 on host_1 is in use by another program: free it or '
                      'choose other ports (kvm_auto_range_trainee_ports)']


@pytest.mark.parametrize('count, free, message', [
    (3, 1, 'host_1: trainee ports 60000-60001 have 1 free port there, but 3 instances need one (1, 2, 3): choose a '
           'wider port range (kvm_auto_range_trainee_ports) or free ports on host_1'),
    (1, 0, 'host_1: trainee ports 60000-60001 have 0 free ports there, but 1 instance needs one (1): choose a wider '
           'port range (kvm_auto_range_trainee_ports) or free ports on host_1'),
])
def test_too_few_ports(count, free, message):
    listening = [60000, 60001][free:]
    records, errors = assign_access([entry(i) for i in range(1, count + 1)], [], 60000, 60001,
                                    {'host_1': idle(*listening)})
    assert errors == [message]


def test_every_error_at_once():
    entries = [entry(1), entry(1, guest='dup_cr42_1_1'), entry(2, guest='desktop_cr42_1_1'),
               entry(3, account='Trainee'), entry(4, address='-oProxyCommand=x'), entry(5, host='host_9'),
               entry(6), entry(7), entry(8, 'host_2')]
    hosts = {'host_1': idle(60001), 'host_2': {'listening': 'many'}}
    records, errors = assign_access(entries, [recorded(6, 60000)], 60000, 60001, hosts)
    assert errors == [
        'instance 1 (dup_cr42_1_1): instance 1 is given twice',
        'instance 2 (desktop_cr42_1_1): guest desktop_cr42_1_1 is the entry point of two instances',
        "instance 3 (desktop_cr42_3_1): account: 'Trainee' is not a valid account name (a lower-case letter or _, "
        "then up to 31 of a-z 0-9 _ . -)",
        "instance 4 (desktop_cr42_4_1): address: '-oProxyCommand=x' is not a host name or address trainees can "
        "connect to",
        'instance 5 (desktop_cr42_5_1): hosts: host_9 is missing or has no list of listening ports',
        'instance 8 (desktop_cr42_8_1): hosts: host_2 is missing or has no list of listening ports',
        'host_1: trainee ports 60000-60001 have 0 free ports there, but 2 instances need one (1, 7): choose a wider '
        'port range (kvm_auto_range_trainee_ports) or free ports on host_1',
    ]
    assert [r['instance'] for r in records] == [1, 6, 7]


@pytest.mark.parametrize('text, expected', [
    ('60000-65000', (60000, 65000)), (' 1024 - 1024 ', (1024, 1024)), ('61000', (61000, 61000)),
    (61000, (61000, 61000)), ('65535-65535', (65535, 65535)),
])
def test_parse_ports(text, expected):
    assert parse_ports(text) == expected


@pytest.mark.parametrize('text', ['65000-60000', '1023-2000', '60000-65536', '60000-', 'a-b', '1-2-3', '', '-5'])
def test_parse_ports_refused(text):
    with pytest.raises(AccessError) as caught:
        parse_ports(text)
    assert caught.value.errors == ['ports: %r is not a port range FIRST-LAST with 1024 <= FIRST <= LAST <= 65535 '
                                   '(kvm_auto_range_trainee_ports)' % text]


EXPECTED_NOTIFICATION = '''Dear user,

Training session #42 is ready. Each trainee logs in to the entry point of one cyber
range instance, as listed below:

- Total number of cyber range instances: 2

- Cyber range instance #1:
  Login: ssh trainee01@192.0.2.10 -p 60000
  Password: pw1

- Cyber range instance #2:
  Login: ssh trainee02@192.0.2.11 -p 60001
  Password: pw2

This file holds the trainees' passwords: give each trainee only the lines of their instance.

Best regards,
The cyber range administrators
'''


def test_notification_text():
    second = dict(recorded(2, 60001), address='192.0.2.11')
    assert notification_text('42', [second, recorded(1, 60000)]) == EXPECTED_NOTIFICATION


def test_notification_text_without_instances():
    text = notification_text('7', [])
    assert '- Total number of cyber range instances: 0\n\nThis file holds' in text
    assert 'Cyber range instance #' not in text


def test_state_text_reads_back_and_is_stable():
    records = [recorded(1, 60000), recorded(2, 60001)]
    text = state_text('42', records)
    assert parse_state(text, '42') == records
    assert state_text('42', [dict(reversed(list(r.items()))) for r in records]) == text


@pytest.mark.parametrize('text, problem', [
    ('range_id: "42"\n', 'it is not the JSON form of YAML that kvm_auto_access writes (Expecting value: line 1 '
                         'column 1 (char 0))'),
    ('[]', 'it has no list of instances'),
    ('{"range_id": "41", "instances": []}', 'it records range 41, not range 42'),
    ('{"range_id": 42, "instances": [7]}', 'an instance is not a mapping'),
    ('{"range_id": "42", "instances": [{"instance": 1}]}', 'instance 1: guest is missing or not a text'),
])
def test_parse_state_refused(text, problem):
    with pytest.raises(AccessError) as caught:
        parse_state(text, '42')
    assert caught.value.errors == ['state_file: %s: fix it, or remove it to give every trainee a new password and '
                                   'port' % problem]


@pytest.mark.parametrize('field, value, problem', [
    ('password', '', 'password is missing or not a text'),
    ('port', '60000', 'port is missing or not a number in range'),
    ('port', 70000, 'port is missing or not a number in range'),
    ('instance', True, 'instance is missing or not a number in range'),
    ('salt', 'a$b', 'salt is missing or not 1 to 16 of ./0-9A-Za-z'),
])
def test_parse_state_bad_record_never_shows_the_password(field, value, problem):
    record = dict(recorded(3, 60000, password='s3cretPassw0rd'), **{field: value})
    with pytest.raises(AccessError) as caught:
        parse_state(state_text('42', [record]), '42')
    assert problem in caught.value.errors[0]
    assert 's3cretPassw0rd' not in caught.value.errors[0]


@pytest.fixture
def umask_zero():
    # With no umask a file gets exactly the mode it is created with.
    old = os.umask(0)
    yield
    os.umask(old)


def test_write_private_is_0600_from_creation(tmp_path, monkeypatch, umask_zero):
    created = []
    real_open = os.open

    def spying_open(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT:
            created.append((os.path.dirname(path), flags & os.O_EXCL, mode))
        return real_open(path, flags, mode, *args, **kwargs)
    monkeypatch.setattr(_range_access.os, 'open', spying_open)
    target = tmp_path / 'range_access-cr42.yml'
    write_private(str(target), 'secret text\n')
    assert created == [(str(tmp_path), os.O_EXCL, 0o600)]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == 'secret text\n'
    assert os.listdir(str(tmp_path)) == ['range_access-cr42.yml']


def test_write_private_replaces_a_wider_file(tmp_path, umask_zero):
    target = tmp_path / 'notification.txt'
    target.write_text('old')
    target.chmod(0o644)
    write_private(str(target), 'new')
    assert (target.read_text(), stat.S_IMODE(target.stat().st_mode)) == ('new', 0o600)


def test_write_private_leaves_no_temporary_file_on_failure(tmp_path, monkeypatch):
    def failing_rename(source, target):
        raise OSError(28, 'No space left on device', target)
    monkeypatch.setattr(_range_access.os, 'rename', failing_rename)
    with pytest.raises(OSError):
        write_private(str(tmp_path / 'state.yml'), 'text')
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize('content, mode, text, status, changed', [
    (None, None, 'a', 'absent', True),
    ('a', 0o600, 'a', 'mode 0600, up to date', False),
    ('a', 0o644, 'a', 'mode 0644, up to date', True),
    ('b', 0o600, 'a', 'mode 0600, out of date', True),
    ('a', 0o600, None, 'mode 0600', True),
    (None, None, None, 'absent', False),
])
def test_file_status_and_bring_file(tmp_path, content, mode, text, status, changed):
    path = tmp_path / 'file'
    if content is not None:
        path.write_text(content)
        path.chmod(mode)
        before = path.stat().st_ino
    assert file_status(str(path), text) == status
    assert bring_file(str(path), text) is changed
    if text is None:
        assert not path.exists()
    else:
        assert (path.read_text(), stat.S_IMODE(path.stat().st_mode)) == (text, 0o600)
        if content == text:
            assert path.stat().st_ino == before  # a mode fix or nothing: the file is not rewritten
    assert bring_file(str(path), text) is False
