# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import image_install
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_tasks import (
    FIREWALL_UNIT_TEXT, STEP_FUNCTIONS, ImageInputError, check_hostname, failed_field, final_passwords, firewall_ruleset,
    normalize_tasks, plan_build, secret_fields)

STAGE = '/stage'
# Every plan starts with installing the guest identity service.
IDENTITY_FILES, IDENTITY_OPERATIONS = image_install(STAGE)
IDENTITY_LINES = ['%s %s' % operation for operation in IDENTITY_OPERATIONS]


@pytest.fixture
def files(tmp_path):
    (tmp_path / 'flag.txt').write_text(u'flag\n')
    (tmp_path / 'dir').mkdir()
    (tmp_path / 'dir' / 'a').write_text(u'a')
    (tmp_path / 'rules').write_text(u'-A INPUT -i lo -j ACCEPT\n')
    (tmp_path / 'more-rules').write_text(u'-A INPUT -j DROP')
    (tmp_path / 'full-rules').write_text(u'*filter\n:INPUT DROP [0:0]\nCOMMIT\n')
    return tmp_path


def plan(tasks, **kwargs):
    return plan_build(normalize_tasks(tasks), STAGE, **kwargs)


# Validation: every error names the field and the value (never a password).

@pytest.mark.parametrize('tasks, field, words', [
    ([{'add_account': [{'account': 'Bad Name', 'passwd': 'pw'}]}], 'tasks[0].add_account[0].account', "'Bad Name'"),
    ([{'add_account': [{'account': 'a;rm -rf /', 'passwd': 'pw'}]}], 'tasks[0].add_account[0].account', 'rm -rf'),
    ([{'add_account': [{'account': 'x' * 33, 'passwd': 'pw'}]}], 'tasks[0].add_account[0].account', 'xxx'),
    ([{'add_account': [{'account': 'ok', 'passwd': ''}]}], 'tasks[0].add_account[0].passwd', 'must not be empty'),
    ([{'add_account': [{'account': 'ok', 'passwd': 'pw', 'full_name': 'A:B'}]}], 'tasks[0].add_account[0].full_name',
     "'A:B'"),
    ([{'add_account': [{'account': 'ok', 'passwd': 'pw', 'full_name': 'A\nB'}]}], 'tasks[0].add_account[0].full_name',
     'must not hold : , or a line break'),
    ([{'add_account': [{'account': 'ok', 'passwd': 'pw', 'full_name': 'Bob, Room 1'}]}],
     'tasks[0].add_account[0].full_name', "'Bob, Room 1' must not hold"),
    ([{'add_account': [{'account': 'bob$', 'passwd': 'pw'}]}], 'tasks[0].add_account[0].account',
     "'bob$' is not a valid account name"),
    ([{'add_account': [{'account': '-bob', 'passwd': 'pw'}]}], 'tasks[0].add_account[0].account', "'-bob'"),
    ([{'add_account': [{'account': '.bob', 'passwd': 'pw'}]}], 'tasks[0].add_account[0].account', "'.bob'"),
    ([{'add_account': [{'account': 'bob', 'passwd': ['pw']}]}], 'tasks[0].add_account[0].passwd',
     'expected a string, got a list'),
    ([{'add_account': [{'account': 'bob'}]}], 'tasks[0].add_account[0]', 'missing required key passwd'),
    ([{'add_account': [{'account': 'bob', 'passwd': 'pw', 'password': 'pw'}]}], 'tasks[0].add_account[0]',
     "unknown key 'password'"),
    ([{'modify_account': [{'account': 'root'}]}], 'tasks[0].modify_account[0]', 'new_account'),
    ([{'modify_account': [{'account': 'bob', 'new_account': 'bob'}]}], 'tasks[0].modify_account[0].new_account',
     'current name'),
    ([{'modify_account': [{'account': 'bob', 'new_account': '0day'}]}], 'tasks[0].modify_account[0].new_account',
     "'0day'"),
    ([{'install_package': [{'name': '  '}]}], 'tasks[0].install_package[0].name', 'at least one'),
    ([{'install_package': [{'name': 'tree;reboot'}]}], 'tasks[0].install_package[0].name', "'tree;reboot'"),
    ([{'install_package': [{'name': 'a,b'}]}], 'tasks[0].install_package[0].name', "'a,b'"),
    ([{'install_package': [{'name': 'foo@bar'}]}], 'tasks[0].install_package[0].name', "'foo@bar' is not a list"),
    ([{'install_package': [{'name': 'tree', 'version': 1.1}]}], 'tasks[0].install_package[0].version',
     'expected a string, got a number'),
    ([{'install_package': [{'name': 'tree', 'version': '1 2'}]}], 'tasks[0].install_package[0].version', "'1 2'"),
    ([{'install_package': [{'name': 'tree', 'package_manager': 'brew'}]}],
     'tasks[0].install_package[0].package_manager', "'brew'"),
    ([{'copy_content': [{'src': '/nonexistent/kvm-auto', 'dst': '/opt'}]}], 'tasks[0].copy_content[0].src',
     "'/nonexistent/kvm-auto' does not exist"),
    ([{'copy_content': [{'src': 'relative', 'dst': '/opt'}]}], 'tasks[0].copy_content[0].src', 'absolute'),
    ([{'copy_content': [{'src': '/etc/hostname', 'dst': 'opt'}]}], 'tasks[0].copy_content[0].dst', "'opt'"),
    ([{'copy_content': [{'src': '/etc/hostname', 'dst': '/a:b'}]}], 'tasks[0].copy_content[0].dst', '":"'),
    ([{'execute_program': [{'program': '/p', 'interpreter': 'bash;x'}]}], 'tasks[0].execute_program[0].interpreter',
     "'bash;x'"),
    ([{'execute_program': [{'program': '/p', 'interpreter': 'bash', 'execute_time': 'after_clone'}]}],
     'tasks[0].execute_program[0].execute_time', 'after_clone'),
    ([{'execute_program': [{'program': '/p', 'interpreter': 'bash', 'args': '"open'}]}],
     'tasks[0].execute_program[0].args', 'cannot be split'),
    ([{'firewall_rules': [{'rule': '/nonexistent/rules'}]}], 'tasks[0].firewall_rules[0].rule', 'not a file'),
    ([{'emulate_attack': [{'attack_type': 'ssh_attack'}]}], 'tasks[0].emulate_attack', 'runs on each clone after its first boot'),
    ([{'emulate_malware': [{'name': 'a/b', 'mode': 'port_listening', 'port': 4444}]}],
     'tasks[0].emulate_malware[0].name', "'a/b' is not a process name"),
    ([{'emulate_malware': [{'name': 'x' * 16, 'mode': 'port_listening', 'port': 4444}]}],
     'tasks[0].emulate_malware[0].name', 'up to 15'),
    ([{'emulate_malware': [{'name': 'crypto miner', 'mode': 'port_listening', 'port': 4444}]}],
     'tasks[0].emulate_malware[0].name', "'crypto miner'"),
    ([{'emulate_malware': [{'name': '-m', 'mode': 'port_listening', 'port': 4444}]}],
     'tasks[0].emulate_malware[0].name', "'-m'"),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'mining', 'port': 4444}]}], 'tasks[0].emulate_malware[0].mode',
     "'mining' is not one of dummy_calculation, port_listening"),
    ([{'emulate_malware': [{'name': 'm', 'port': 4444}]}], 'tasks[0].emulate_malware[0]', 'missing required key mode'),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'dummy_calculation'}]}], 'tasks[0].emulate_malware[0]',
     'mode dummy_calculation needs cpu_utilization'),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'port_listening', 'cpu_utilization': ''}]}],
     'tasks[0].emulate_malware[0]', 'mode port_listening needs port'),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'dummy_calculation', 'cpu_utilization': 101}]}],
     'tasks[0].emulate_malware[0].cpu_utilization', "'101' is not a CPU share in percent: a whole number from 1 to 100"),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'dummy_calculation', 'cpu_utilization': '50%'}]}],
     'tasks[0].emulate_malware[0].cpu_utilization', "'50%'"),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'dummy_calculation', 'cpu_utilization': 0}]}],
     'tasks[0].emulate_malware[0].cpu_utilization', "'0'"),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'dummy_calculation', 'cpu_utilization': 12.5}]}],
     'tasks[0].emulate_malware[0].cpu_utilization', 'expected a whole number, got a number'),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'port_listening', 'port': True}]}],
     'tasks[0].emulate_malware[0].port', 'expected a whole number, got a boolean'),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'port_listening', 'port': 65536}]}],
     'tasks[0].emulate_malware[0].port', "'65536' is not a TCP port: a whole number from 1 to 65535"),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'port_listening', 'port': 4444, 'cpu_utilization': 5}]}],
     'tasks[0].emulate_malware[0].cpu_utilization', 'cpu_utilization is for mode dummy_calculation; the mode of this '
     'task is port_listening'),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'dummy_calculation', 'cpu_utilization': 5, 'port': 4444}]}],
     'tasks[0].emulate_malware[0].port', 'port is for mode port_listening'),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'port_listening', 'port': 4444, 'pid': 1}]}],
     'tasks[0].emulate_malware[0]', "unknown key 'pid'"),
    ([{'emulate_malware': [{'name': 'm', 'mode': 'port_listening', 'port': 4444}]},
      {'emulate_malware': [{'name': 'm', 'mode': 'dummy_calculation', 'cpu_utilization': 5}]}],
     'tasks[1].emulate_malware[0].name', "'m' is already the name of tasks[0].emulate_malware[0]"),
    ([{'emulate_malware': [{'name': 'a', 'mode': 'port_listening', 'port': 4444},
                           {'name': 'b', 'mode': 'port_listening', 'port': '4444'}]}],
     'tasks[0].emulate_malware[1].port', "'4444' is already the port of tasks[0].emulate_malware[0]"),
    ([{'emulate_traffic_capture_file': [{'format': 'pcap'}]}], 'tasks[0].emulate_traffic_capture_file',
     'runs on each clone after its first boot, not in an image'),
    ([{'add_account': [], }], 'tasks[0].add_account', 'the list is empty'),
    ([{'add_account': {'account': 'alice', 'passwd': 'pw'}}], 'tasks[0].add_account', 'expected a list, got a mapping'),
    ([{'add_account': ['alice']}], 'tasks[0].add_account[0]', 'expected a mapping, got a string'),
    ([{}], 'tasks[0]', 'no task type'),
    ([{'add_account': None, 'modify_account': None}], 'tasks[0]', 'no task type'),
    ([{'add_account': [{'account': 'a', 'passwd': 'p'}], 'install_package': [{'name': 'x'}]}], 'tasks[0]',
     'add_account and install_package'),
    ([{'reboot': [{}]}], 'tasks[0]', "unknown task type 'reboot'"),
    (['add_account'], 'tasks[0]', 'expected a single-key mapping such as {add_account: [...]}, got a string'),
])
def test_normalize_rejects(tasks, field, words):
    with pytest.raises(ImageInputError) as info:
        normalize_tasks(tasks)
    assert info.value.field == field
    assert str(info.value).startswith(field + ': ')
    assert words in str(info.value)


@pytest.mark.parametrize('secret, words', [
    ('two\nlines', 'single line'),
    ('', 'must not be empty'),
])
def test_password_errors_never_show_the_password(secret, words):
    with pytest.raises(ImageInputError) as info:
        normalize_tasks([{'modify_account': [{'account': 'root', 'new_passwd': secret}]}])
    assert words in str(info.value)
    if secret:
        assert secret not in str(info.value) and 'two' not in str(info.value)


@pytest.mark.parametrize('hostname', [None, 'desktop', 'web-1.range.example', 'A1'])
def test_hostname_accepts(hostname):
    check_hostname(hostname)


@pytest.mark.parametrize('hostname', ['-bad', 'bad-', 'a b', 'a..b', 'x' * 64, 'a;reboot'])
def test_hostname_rejects(hostname):
    with pytest.raises(ImageInputError) as info:
        check_hostname(hostname)
    assert info.value.field == 'hostname'


def test_null_task_types_are_left_out():
    # The module's argument spec fills every task type of an item in, with null.
    ops = normalize_tasks([{'add_account': [{'account': 'first.last', 'passwd': 'pw', 'full_name': None}],
                            'modify_account': None, 'install_package': None}])
    assert ops == [{'kind': 'add_account', 'field': 'tasks[0].add_account[0]', 'account': 'first.last', 'passwd': 'pw',
                    'full_name': None}]


def test_normalize_flattens_in_order(files):
    ops = normalize_tasks([
        {'add_account': [{'account': 'a', 'passwd': 'p1'}, {'account': 'b', 'passwd': 'p2', 'full_name': 'B b'}]},
        {'install_package': [{'name': 'tree  less', 'version': None}]},
        {'copy_content': [{'src': str(files / 'dir') + '/', 'dst': '/opt/x'}]},
        {'execute_program': [{'program': '/opt/x/run.sh', 'interpreter': 'bash', 'args': "-v 'two words'"}]},
    ])
    assert [(o['kind'], o['field']) for o in ops] == [
        ('add_account', 'tasks[0].add_account[0]'), ('add_account', 'tasks[0].add_account[1]'),
        ('install_package', 'tasks[1].install_package[0]'), ('copy_content', 'tasks[2].copy_content[0]'),
        ('execute_program', 'tasks[3].execute_program[0]')]
    assert ops[2]['packages'] == ['tree', 'less']
    assert ops[3]['src'] == str(files / 'dir')
    assert ops[4]['args'] == ['-v', 'two words']


@pytest.mark.parametrize('params, op', [
    ({'name': 'miner', 'mode': 'dummy_calculation', 'cpu_utilization': 40},
     {'name': 'miner', 'mode': 'dummy_calculation', 'cpu_utilization': 40, 'port': None}),
    ({'name': 'miner', 'mode': 'dummy_calculation', 'cpu_utilization': '100', 'port': None},
     {'name': 'miner', 'mode': 'dummy_calculation', 'cpu_utilization': 100, 'port': None}),
    ({'name': 'sshd', 'mode': 'port_listening', 'port': '4444', 'cpu_utilization': ''},
     {'name': 'sshd', 'mode': 'port_listening', 'cpu_utilization': None, 'port': 4444}),
])
def test_normalize_malware(params, op):
    assert normalize_tasks([{'emulate_malware': [params]}]) == [
        dict(op, kind='emulate_malware', field='tasks[0].emulate_malware[0]')]


# Password tracking through renames.

def ops_of(*tasks):
    return normalize_tasks(list(tasks))


@pytest.mark.parametrize('tasks, root_password, expected', [
    # add then rename: the password follows the account to its new name
    ([{'add_account': [{'account': 'daniel', 'passwd': 'p1'}]},
      {'modify_account': [{'account': 'daniel', 'new_account': 'trainee'}]}],
     None, {'trainee': 'p1'}),
    # rename then re-password: only the last password, on the new name
    ([{'add_account': [{'account': 'a', 'passwd': 'p1'}]},
      {'modify_account': [{'account': 'a', 'new_account': 'b', 'new_passwd': 'p2'}]},
      {'modify_account': [{'account': 'b', 'new_passwd': 'p3'}]}],
     None, {'b': 'p3'}),
    # a password set before the rename of a template account
    ([{'modify_account': [{'account': 'debian', 'new_passwd': 'p1'}]},
      {'modify_account': [{'account': 'debian', 'new_account': 'admin'}]}],
     None, {'admin': 'p1'}),
    # the old name is free again after a rename
    ([{'add_account': [{'account': 'a', 'passwd': 'p1'}]},
      {'modify_account': [{'account': 'a', 'new_account': 'b'}]},
      {'add_account': [{'account': 'a', 'passwd': 'p2'}]}],
     None, {'a': 'p2', 'b': 'p1'}),
    # swap names through a third one
    ([{'add_account': [{'account': 'x', 'passwd': 'px'}, {'account': 'y', 'passwd': 'py'}]},
      {'modify_account': [{'account': 'x', 'new_account': 'tmp'}, {'account': 'y', 'new_account': 'x'},
                          {'account': 'tmp', 'new_account': 'y'}]}],
     None, {'x': 'py', 'y': 'px'}),
    ([], 'rootpw', {'root': 'rootpw'}),
    ([{'modify_account': [{'account': 'root', 'new_account': 'admin'}]}], 'rootpw', {'admin': 'rootpw'}),
    ([{'modify_account': [{'account': 'root', 'new_passwd': 'r2'}]}], None, {'root': 'r2'}),
    ([{'modify_account': [{'account': 'guest', 'new_account': 'visitor'}]}], None, {}),
])
def test_final_passwords(tasks, root_password, expected):
    final = final_passwords(ops_of(*tasks), root_password)
    assert dict((name, secret) for name, (secret, field) in final.items()) == expected


@pytest.mark.parametrize('tasks, root_password, field', [
    ([{'add_account': [{'account': 'a', 'passwd': 'p'}, {'account': 'a', 'passwd': 'q'}]}], None,
     'tasks[0].add_account[1].account'),
    ([{'add_account': [{'account': 'a', 'passwd': 'p'}, {'account': 'b', 'passwd': 'q'}]},
      {'modify_account': [{'account': 'a', 'new_account': 'b'}]}], None, 'tasks[1].modify_account[0].new_account'),
    ([{'modify_account': [{'account': 'root', 'new_passwd': 'other'}]}], 'rootpw',
     'tasks[0].modify_account[0].new_passwd'),
    ([{'add_account': [{'account': 'root', 'passwd': 'p'}]}], 'rootpw', 'tasks[0].add_account[0].account'),
    # root is in every template, with or without root_password
    ([{'add_account': [{'account': 'root', 'passwd': 'p'}]}], None, 'tasks[0].add_account[0].account'),
    ([{'modify_account': [{'account': 'debian', 'new_account': 'root'}]}], None, 'tasks[0].modify_account[0].new_account'),
    # a name renamed away cannot be changed any more
    ([{'add_account': [{'account': 'a', 'passwd': 'p'}]},
      {'modify_account': [{'account': 'a', 'new_account': 'b'}, {'account': 'a', 'new_passwd': 'q'}]}], None,
     'tasks[1].modify_account[1].account'),
])
def test_final_passwords_conflicts(tasks, root_password, field):
    with pytest.raises(ImageInputError) as info:
        final_passwords(ops_of(*tasks), root_password)
    assert info.value.field == field
    assert 'rootpw' not in str(info.value)


def test_final_passwords_conflict_names_the_earlier_task():
    with pytest.raises(ImageInputError) as info:
        final_passwords(ops_of({'add_account': [{'account': 'first.last', 'passwd': 'p'}]},
                               {'add_account': [{'account': 'first.last', 'passwd': 'q'}]}))
    assert str(info.value) == "tasks[1].add_account[0].account: 'first.last' is already added by tasks[0].add_account[0]"


def test_secret_fields():
    ops = ops_of({'add_account': [{'account': 'a', 'passwd': 'p1'}]},
                 {'modify_account': [{'account': 'a', 'new_account': 'b'}, {'account': 'b', 'new_passwd': 'p2'}]})
    assert secret_fields(ops, 'r') == [('root_password', 'r'), ('tasks[0].add_account[0].passwd', 'p1'),
                                       ('tasks[1].modify_account[1].new_passwd', 'p2')]


# Translation into operations.

def script_of(result, number=0):
    """The lines of a step script: its two header lines, then the steps (the shell functions left out)."""
    path, text, mode = [f for f in result['files'] if f[0] == '/stage/steps-%d.sh' % number][0]
    assert mode == 0o600
    head, functions, steps = text.partition(STEP_FUNCTIONS)
    assert functions and len(head.splitlines()) == 2
    return head.splitlines() + steps.splitlines()


def test_plan_accounts_rename_and_passwords():
    result = plan([{'add_account': [{'account': 'daniel', 'passwd': 'S3cret!', 'full_name': "Dan O'Neil"}]},
                   {'modify_account': [{'account': 'daniel', 'new_account': 'trainee'}]},
                   {'modify_account': [{'account': 'root', 'new_passwd': 'R00t pw'}]}], hostname='desktop')
    assert result['lines'] == ['hostname desktop'] + IDENTITY_LINES + [
        'run /stage/steps-0.sh',
        'root-password file:/stage/password-0',
        'password trainee:file:/stage/password-1',
    ]
    assert script_of(result)[2:] == [
        "echo 'kvm-auto-step: tasks[0].add_account[0]' >&2",
        "useradd -m -s /bin/bash -c 'Dan O'\"'\"'Neil' daniel || exit 1",
        "echo 'kvm-auto-step: tasks[1].modify_account[0]' >&2",
        "kvm_auto_rename daniel trainee || exit 1",
        "echo 'kvm-auto-step: tasks[2].modify_account[0].new_passwd' >&2",
        "kvm_auto_account root || { echo 'account root does not exist, so its password cannot be set' >&2; exit 1; }"
        " || exit 1",
        "echo 'kvm-auto-step: tasks[0].add_account[0].passwd' >&2",
        "kvm_auto_account trainee || { echo 'account trainee does not exist, so its password cannot be set' >&2; "
        "exit 1; } || exit 1",
    ]
    assert [f for f in result['files'] if 'password' in f[0]] == [
        ('/stage/password-0', 'R00t pw\n', 0o600), ('/stage/password-1', 'S3cret!\n', 0o600)]
    assert result['network'] is False
    assert result['password_accounts'] == ['root', 'trainee']
    for line in result['lines'] + script_of(result):
        assert 'S3cret!' not in line and 'R00t pw' not in line


@pytest.mark.parametrize('call, rc, out', [
    ('kvm_auto_account root && echo "$kvm_auto_home"', 0, '/root\n'),
    ('kvm_auto_account nosuchaccount-kvmauto || echo "missing:$kvm_auto_home"', 0, 'missing:\n'),
    ('kvm_auto_account roo', 1, ''),
    ('kvm_auto_group root && echo yes', 0, 'yes\n'),
    ('kvm_auto_group nosuchgroup-kvmauto', 1, ''),
    ('kvm_auto_rename nosuchaccount-kvmauto other', 1, ''),
])
def test_step_functions_read_the_account_files(call, rc, out):
    """The shell functions of the step scripts, run by the system's sh on this host's own files."""
    proc = subprocess.run(['sh', '-c', STEP_FUNCTIONS + call], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout) == (rc, out), proc.stderr
    if 'rename' in call:
        assert proc.stderr == 'account nosuchaccount-kvmauto does not exist, so it cannot be renamed\n'


def test_plan_without_root_password_disables_it():
    result = plan([{'add_account': [{'account': 'a', 'passwd': 'p'}]}])
    assert result['lines'][-1] == 'root-password disabled'
    assert 'root-password disabled' not in plan([], root_password='r')['lines']


def test_plan_nothing():
    assert plan([]) == {'lines': IDENTITY_LINES + ['root-password disabled'], 'files': IDENTITY_FILES, 'fields': [],
                        'scripts': [], 'network': False, 'password_accounts': []}


@pytest.mark.parametrize('params, osinfo, line', [
    ({'name': 'tree'}, 'debian12', 'install tree'),
    ({'name': 'tree less'}, None, 'install tree,less'),
    ({'name': 'tree', 'version': '2.1.0-1'}, 'debian12', 'install tree=2.1.0-1'),
    ({'name': 'tree', 'version': '2.1.0'}, 'fedora38', 'install tree-2.1.0'),
    ({'name': 'tree', 'version': '2.1.0', 'package_manager': 'yum'}, 'debian12', 'install tree-2.1.0'),
    ({'name': 'a b', 'version': '1', 'package_manager': 'apt-get'}, None, 'install a=1,b=1'),
    ({'name': 'tree', 'version': '1', 'package_manager': 'zypper'}, None, 'install tree=1'),
])
def test_plan_install(params, osinfo, line):
    result = plan([{'install_package': [params]}], osinfo=osinfo)
    assert result['lines'][len(IDENTITY_LINES)] == line
    assert result['network'] is True


def test_plan_install_version_needs_a_package_manager():
    with pytest.raises(ImageInputError) as info:
        plan([{'install_package': [{'name': 'tree', 'version': '1'}]}], osinfo='win10')
    assert info.value.field == 'tasks[0].install_package[0].package_manager'


def test_plan_copy_and_execute_keep_their_order(files):
    result = plan([{'add_account': [{'account': 'a', 'passwd': 'p'}]},
                   {'copy_content': [{'src': str(files / 'flag.txt'), 'dst': '/home/a'}]},
                   {'execute_program': [{'program': '/opt/run me.sh', 'interpreter': 'bash',
                                         'args': "--name 'a b' $HOME;reboot"}]}])
    assert result['lines'][len(IDENTITY_LINES):len(IDENTITY_LINES) + 4] == [
        'run /stage/steps-0.sh',
        'mkdir /home/a',
        'copy-in %s:/home/a' % (files / 'flag.txt'),
        'run /stage/steps-1.sh',
    ]
    assert script_of(result, 1)[3] == "bash '/opt/run me.sh' --name 'a b' '$HOME;reboot' || exit 1"
    assert result['scripts'] == [('/stage/steps-0.sh', ['tasks[0].add_account[0]']),
                                 ('/stage/steps-1.sh', ['tasks[2].execute_program[0]', 'tasks[0].add_account[0].passwd'])]


def test_plan_firewall(files):
    result = plan([{'firewall_rules': [{'rule': str(files / 'rules')}, {'rule': str(files / 'more-rules')}]}])
    assert result['lines'] == IDENTITY_LINES + [
        'mkdir /etc/iptables',
        'upload /stage/iptables.rules:/etc/iptables/rules.v4',
        'chmod 0644:/etc/iptables/rules.v4',
        'upload /stage/kvm-auto-iptables.service:/etc/systemd/system/kvm-auto-iptables.service',
        'chmod 0644:/etc/systemd/system/kvm-auto-iptables.service',
        'link /etc/systemd/system/kvm-auto-iptables.service:'
        '/etc/systemd/system/multi-user.target.wants/kvm-auto-iptables.service',
        'run /stage/steps-0.sh',
        'root-password disabled',
    ]
    assert script_of(result)[3].startswith('test -x /usr/sbin/iptables-restore || ')
    assert result['files'][len(IDENTITY_FILES):len(IDENTITY_FILES) + 2] == [
        ('/stage/iptables.rules', '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n'
                                  '-A INPUT -i lo -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n', 0o644),
        ('/stage/kvm-auto-iptables.service', FIREWALL_UNIT_TEXT, 0o644)]
    assert 'ExecStart=/usr/sbin/iptables-restore /etc/iptables/rules.v4' in FIREWALL_UNIT_TEXT


def test_plan_malware_after_every_task_in_one_script(files):
    result = plan([{'emulate_malware': [{'name': 'miner', 'mode': 'dummy_calculation', 'cpu_utilization': 30},
                                        {'name': 'backdoor', 'mode': 'port_listening', 'port': 4444}]},
                   {'install_package': [{'name': 'netcat-openbsd'}]},
                   {'firewall_rules': [{'rule': str(files / 'rules')}]}])
    lines = result['lines'][len(IDENTITY_LINES):]
    assert lines[:12] == [
        'install netcat-openbsd',
        'mkdir /usr/local/libexec/kvm-auto-malware',
        'mkdir /etc/systemd/system/multi-user.target.wants',
        'upload /stage/malware-miner:/usr/local/libexec/kvm-auto-malware/miner',
        'chmod 0755:/usr/local/libexec/kvm-auto-malware/miner',
        'upload /stage/kvm-auto-malware-miner.service:/etc/systemd/system/kvm-auto-malware-miner.service',
        'chmod 0644:/etc/systemd/system/kvm-auto-malware-miner.service',
        'link /etc/systemd/system/kvm-auto-malware-miner.service:'
        '/etc/systemd/system/multi-user.target.wants/kvm-auto-malware-miner.service',
        'upload /stage/kvm-auto-malware-backdoor.service:/etc/systemd/system/kvm-auto-malware-backdoor.service',
        'chmod 0644:/etc/systemd/system/kvm-auto-malware-backdoor.service',
        'link /etc/systemd/system/kvm-auto-malware-backdoor.service:'
        '/etc/systemd/system/multi-user.target.wants/kvm-auto-malware-backdoor.service',
        'mkdir /etc/iptables',
    ]
    # The firewall's check and the link to netcat share the one script after every task.
    assert lines[-2:] == ['run /stage/steps-0.sh', 'root-password disabled']
    assert result['scripts'] == [('/stage/steps-0.sh', ['tasks[2].firewall_rules[0]', 'tasks[0].emulate_malware[1]'])]
    assert script_of(result)[-1].startswith('kvm_auto_nc=$(command -v nc.openbsd) || ')
    assert script_of(result)[-1].endswith('ln -sf "$kvm_auto_nc" /usr/local/libexec/kvm-auto-malware/backdoor || exit 1')
    staged = dict((path, (text, mode)) for path, text, mode in result['files'])
    assert 'busy=$((30 * hz / 100))' in staged['/stage/malware-miner'][0]
    assert 'ExecStart=/usr/local/libexec/kvm-auto-malware/backdoor -d -k -l 4444\n' in \
        staged['/stage/kvm-auto-malware-backdoor.service'][0]


def test_plan_without_malware_installs_none_of_it():
    result = plan([{'add_account': [{'account': 'a', 'passwd': 'p'}]}])
    assert not [line for line in result['lines'] if 'malware' in line]


def test_failed_field_names_the_listener_task():
    result = plan([{'emulate_malware': [{'name': 'backdoor', 'mode': 'port_listening', 'port': 4444}]}])
    log = ("kvm-auto-step: tasks[0].emulate_malware[0]\ntasks[0].emulate_malware[0]: emulate_malware port_listening "
           "needs OpenBSD netcat\nvirt-builder: error: /stage/steps-0.sh: command exited with an error\n")
    assert failed_field(result, log) == 'tasks[0].emulate_malware[0]'


def test_firewall_complete_file_alone(files):
    text = (files / 'full-rules').read_text()
    assert firewall_ruleset([text], ['f']) == text
    with pytest.raises(ImageInputError) as info:
        firewall_ruleset([text, '-A INPUT -j DROP\n'], ['tasks[0].firewall_rules[0]', 'tasks[0].firewall_rules[1]'])
    assert info.value.field == 'tasks[0].firewall_rules[0]'


def test_failed_field_maps_errors_back(files):
    result = plan([{'add_account': [{'account': 'alice', 'passwd': 'p'}]},
                   {'modify_account': [{'account': 'ghost', 'new_account': 'spirit'}]},
                   {'install_package': [{'name': 'tree'}]},
                   {'copy_content': [{'src': str(files / 'flag.txt'), 'dst': '/opt'}]}])
    log = ("kvm-auto-step: tasks[0].add_account[0]\nkvm-auto-step: tasks[1].modify_account[0]\n"
           "usermod: user 'ghost' does not exist\n"
           "virt-builder: error: /stage/steps-0.sh: command exited with an error\n")
    assert failed_field(result, log) == 'tasks[1].modify_account[0]'
    # a later script is named in the error line; markers of earlier scripts do not count
    log = ("kvm-auto-step: tasks[0].add_account[0]\nkvm-auto-step: tasks[1].modify_account[0]\n"
           "kvm-auto-step: tasks[0].add_account[0].passwd\naccount alice does not exist\n"
           "virt-builder: error: /stage/steps-1.sh: command exited with an error")
    assert failed_field(result, log) == 'tasks[0].add_account[0].passwd'
    assert failed_field(result, "virt-builder: error: \n apt-get install 'tree'\n: command exited with an error"
                        ) == 'tasks[2].install_package[0]'
    assert failed_field(result, 'libguestfs error: copy_in: %s: No such file' % (files / 'flag.txt')
                        ) == 'tasks[3].copy_content[0]'
    assert failed_field(result, 'virt-builder: error: disk full') is None


def test_lines_never_span_lines():
    result = plan([{'add_account': [{'account': 'a', 'passwd': 'p', 'full_name': 'x\\'}]}])
    for line in result['lines'] + script_of(result):
        assert '\n' not in line and not line.endswith('\\')
