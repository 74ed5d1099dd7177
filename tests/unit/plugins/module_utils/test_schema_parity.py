# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The range validation and kvm_auto_image agree on every task.

Each task list (every one of the unit corpora, each of their items alone, and a
table of edge cases) goes through both sides: the range validation (plan_range)
and what kvm_auto_image checks before it builds (normalize_tasks, final_passwords,
the template lookup and the build plan).  Both must accept it or both refuse it,
so a description that passes the range validation is never refused mid-deploy.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import glob
import json
import os

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _cyris_schema, _range_checker, _range_tasks, _runner
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_tasks import (
    ImageInputError, final_passwords, normalize_tasks, plan_build)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import RangeError
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_plan import plan_range
from ansible_collections.cyris.kvm_auto.plugins.module_utils._virt_builder import (
    TemplateError, find_template, parse_template_list)
from ansible_collections.cyris.kvm_auto.plugins.modules import kvm_auto_image

DATA = os.path.join(os.path.dirname(__file__), '..', '..', 'data', 'ranges')
GIB = 1024 ** 3
# The controller files the corpus names (see its README), made real for the module's checks.
CORPUS_FILES = {'/srv/range/motd': 'welcome\n', '/srv/range/rules.v4': '-A INPUT -i lo -j ACCEPT\n',
                '/srv/range/setup.sh': 'echo set up\n'}
LISTING = {
    'version': 1,
    'sources': [{'uri': 'file:///var/lib/cyris-kvm-auto/templates/index'}],
    'templates': [
        {'os-version': 'debian-12', 'arch': 'x86_64', 'size': 6 * GIB, 'osinfo': 'debian12', 'aliases': ['bookworm']},
        {'os-version': 'ubuntu-22.04', 'arch': 'x86_64', 'size': 2 * GIB, 'osinfo': 'ubuntu22.04'},
        {'os-version': 'fedora-38', 'arch': 'x86_64', 'size': 6 * GIB, 'osinfo': 'fedora38'},
        {'os-version': 'win-2022', 'arch': 'x86_64', 'size': 20 * GIB, 'osinfo': 'win2k22'},
        {'os-version': 'custom-1', 'arch': 'x86_64', 'size': 2 * GIB},
        {'os-version': 'alpine-3', 'arch': 'aarch64', 'size': 1 * GIB, 'osinfo': 'alpinelinux3.18'},
    ],
}


@pytest.fixture(scope='module')
def controller(tmp_path_factory):
    """Real files for the corpus paths, plus a directory and a rules file for the edge cases."""
    root = tmp_path_factory.mktemp('controller')
    paths = {}
    for number, (path, text) in enumerate(sorted(CORPUS_FILES.items())):
        real = root / ('file-%d' % number)
        real.write_text(text)
        paths[path] = str(real)
    (root / 'dir').mkdir()
    (root / 'dir' / 'a').write_text('a')
    paths['/srv/range/dir'] = str(root / 'dir')
    return paths


def with_real_paths(tasks, paths):
    """``tasks`` with the controller paths of the corpus replaced by real files; other values as they are."""
    tasks = copy.deepcopy(tasks)
    for item in tasks if isinstance(tasks, list) else ():
        for ttype, key in (('copy_content', 'src'), ('firewall_rules', 'rule')):
            params_list = item.get(ttype) if isinstance(item, dict) else None
            for params in params_list if isinstance(params_list, list) else ():
                if isinstance(params, dict) and params.get(key) in paths:
                    params[key] = paths[params[key]]
                elif isinstance(params, dict) and isinstance(params.get(key), str):
                    assert not os.path.exists(params[key]), 'the test needs %s missing here' % params[key]
    return tasks


def a_range(tasks, image_name):
    return [
        {'host_settings': [{'id': 'host_1', 'mgmt_addr': 'localhost', 'account': 'root'}]},
        {'guest_settings': [{'id': 'g', 'basevm_type': 'kvm-auto', 'image_name': image_name, 'vcpus': 1,
                             'memory': 512, 'disk_size': '20G', 'tasks': tasks}]},
        {'clone_settings': [{'range_id': 1, 'hosts': [
            {'host_id': 'host_1', 'instance_number': 1, 'guests': [{'guest_id': 'g', 'number': 1}]}]}]},
    ]


def range_verdict(tasks, image_name):
    """(accepted, errors, the tasks the range hands to kvm_auto_image)."""
    try:
        plan = plan_range(a_range(tasks, image_name), templates=copy.deepcopy(LISTING), salt='s',
                          file_digest=lambda path: 'digest' if os.path.exists(path) else None)
    except RangeError as exc:
        # Only the guest's tasks and template may be at fault: the rest of the range is valid.
        assert all(e.startswith(('guest_settings[0] (id=g).tasks', 'guest_settings[0] (id=g).image_name'))
                   for e in exc.errors), exc.errors
        return False, exc.errors, None
    return True, [], plan['images'][0]['tasks']


def module_verdict(tasks, image_name, staging):
    """(accepted, error): what kvm_auto_image checks before it builds anything."""
    try:
        ops = normalize_tasks(tasks)
        final_passwords(ops)
        template = find_template(parse_template_list(copy.deepcopy(LISTING)), image_name, _cyris_schema.DEFAULT_ARCH)
        plan_build(ops, staging, osinfo=template['osinfo'])
    except (ImageInputError, TemplateError) as exc:
        return False, str(exc)
    return True, None


def assert_same_verdict(tasks, image_name, staging):
    # after_clone programs and runtime tasks never reach an image (the range runs them on the clones, and checks
    # them alone: test_range_planner's corpus); the rest is what both sides must agree on.
    tasks = _cyris_schema.build_time_tasks(tasks)
    if not tasks:
        return None
    in_range, errors, handed_over = range_verdict(tasks, image_name)
    in_module, error = module_verdict(tasks, image_name, staging)
    assert in_range == in_module, 'range %s (%s), module %s (%s)' % (
        'accepts' if in_range else 'refuses', errors, 'accepts' if in_module else 'refuses', error)
    if in_range:
        # What the range hands over passes the module's argument spec and normalisation too.
        result = ArgumentSpecValidator({'tasks': kvm_auto_image.ARGUMENT_SPEC['tasks']}).validate({'tasks': handed_over})
        assert not result.error_messages
        assert module_verdict(result.validated_parameters['tasks'], image_name, staging)[0]
    return in_range


# ---------------------------------------------------------------- every task of the corpora

def _guests(data):
    if isinstance(data, dict):
        return data.get('guest_settings') or []
    sections = [item for item in data or () if isinstance(item, dict) and 'guest_settings' in item]
    return sections[0]['guest_settings'] or [] if sections else []


def _beyond_description_limits(tasks):
    try:
        _range_checker.plain(tasks)
    except RangeError:
        return True
    return False


def corpus_cases():
    cases = []
    for path in sorted(glob.glob(os.path.join(DATA, '*', '*.yml'))):
        with open(path) as handle:
            data = yaml.safe_load(handle)
        for guest in _guests(data) if isinstance(_guests(data), list) else ():
            tasks = guest.get('tasks') if isinstance(guest, dict) else None
            # An empty or missing list is a guest_settings rule of the range format, not a task rule;
            # so are the limits on the size of a whole description (YAML alias bombs).
            if not isinstance(tasks, list) or not tasks or _beyond_description_limits(tasks):
                continue
            label = '%s:%s' % (os.path.relpath(path, DATA)[:-4], guest.get('id'))
            cases.append(pytest.param(tasks, id=label))
            if len(tasks) > 1:
                cases.extend(pytest.param([item], id='%s:tasks[%d]' % (label, pos)) for pos, item in enumerate(tasks))
    return cases


CORPUS = corpus_cases()


def test_the_corpora_hold_tasks_of_every_type():
    seen = set()
    for case in CORPUS:
        for item in case.values[0]:
            if isinstance(item, dict):
                seen.update(item)
    assert set(_cyris_schema.KNOWN_TASKS) <= seen
    assert len(CORPUS) >= 40


@pytest.mark.parametrize('tasks', CORPUS)
def test_corpus_tasks_get_the_same_verdict(tasks, controller, tmp_path):
    assert_same_verdict(with_real_paths(tasks, controller), 'debian-12', str(tmp_path))


# ---------------------------------------------------------------- edge cases

def add(*names, **extra):
    return {'add_account': [dict({'account': name, 'passwd': 'Edge-Secret-%d' % n}, **extra)
                            for n, name in enumerate(names)]}


def modify(account, **changes):
    return {'modify_account': [dict(changes, account=account)]}


def install(**params):
    return {'install_package': [params]}


def program(**params):
    return {'execute_program': [dict({'program': '/opt/setup.sh', 'interpreter': 'bash'}, **params)]}


def malware(name='miner', mode='dummy_calculation', **params):
    return {'emulate_malware': [dict(params, name=name, mode=mode)]}


EDGE_CASES = [
    # (label, tasks, image_name, accepted)
    ('shell dollar', [add('bob$')], 'debian-12', False),
    ('leading dash', [add('-oops')], 'debian-12', False),
    ('space', [add('bob smith')], 'debian-12', False),
    ('upper case', [add('Bob')], 'debian-12', False),
    ('33 characters', [add('a' * 33)], 'debian-12', False),
    ('32 characters', [add('a' * 32)], 'debian-12', True),
    ('dotted name', [add('first.last')], 'debian-12', True),
    ('rename to a dotted name', [add('bob'), modify('bob', new_account='bob.smith')], 'debian-12', True),
    ('package with @', [install(name='foo@bar')], 'debian-12', False),
    ('package with arch', [install(name='libc6:i386 g++')], 'debian-12', True),
    ('package with comma', [install(name='a,b')], 'debian-12', False),
    ('no package', [install(name='   ')], 'debian-12', False),
    ('alias of a template', [add('bob')], 'bookworm', True),
    ('not an alias', [add('bob')], 'bullseye', False),
    ('template of another arch', [add('bob')], 'alpine-3', False),
    ('account added twice', [add('bob', 'bob')], 'debian-12', False),
    ('account added twice in two tasks', [add('bob'), add('bob')], 'debian-12', False),
    ('rename onto an added account', [add('bob', 'alice'), modify('alice', new_account='bob')], 'debian-12', False),
    ('rename onto root', [modify('debian', new_account='root')], 'debian-12', False),
    ('rename onto a renamed account', [modify('debian', new_account='web'), modify('ubuntu', new_account='web')],
     'debian-12', False),
    ('rename to itself', [add('bob'), modify('bob', new_account='bob')], 'debian-12', False),
    ('add root', [add('root')], 'debian-12', False),
    ('change a name renamed away', [add('bob'), modify('bob', new_account='rob'), modify('bob', new_passwd='x-1')],
     'debian-12', False),
    ('reuse a name renamed away', [add('bob'), modify('bob', new_account='rob'), add('bob')], 'debian-12', True),
    ('swap two names', [add('x', 'y'), {'modify_account': [
        {'account': 'x', 'new_account': 'tmp'}, {'account': 'y', 'new_account': 'x'},
        {'account': 'tmp', 'new_account': 'y'}]}], 'debian-12', True),
    ('two root passwords in turn', [modify('root', new_passwd='r-1'), modify('root', new_passwd='r-2')],
     'debian-12', True),
    ('password of a template account', [modify('debian', new_passwd='d-1')], 'debian-12', True),
    ('modify nothing', [modify('root')], 'debian-12', False),
    ('empty new name', [modify('root', new_account='')], 'debian-12', False),
    ('empty new name and a password', [modify('root', new_account='', new_passwd='r-1')], 'debian-12', True),
    ('empty password', [modify('root', new_passwd='')], 'debian-12', False),
    ('two-line password', [add('bob', passwd='a\nb')], 'debian-12', False),
    ('number as password', [add('bob', passwd=1234)], 'debian-12', True),
    ('boolean as password', [add('bob', passwd=True)], 'debian-12', False),
    ('list as password', [add('bob', passwd=['x'])], 'debian-12', False),
    ('comma in full name', [add('bob', full_name='Bob, Room 1')], 'debian-12', False),
    ('colon in full name', [add('bob', full_name='Bob: admin')], 'debian-12', False),
    ('empty full name', [add('bob', full_name='')], 'debian-12', True),
    ('misspelt password key', [{'add_account': [{'account': 'bob', 'password': 'x'}]}], 'debian-12', False),
    ('pin on apt', [install(name='tree', version='2.1.0-1')], 'debian-12', True),
    ('pin on dnf', [install(name='tree', version='2.1.0')], 'fedora-38', True),
    ('pin without osinfo', [install(name='tree', version='1')], 'custom-1', False),
    ('pin with an unknown package manager', [install(name='tree', version='1')], 'win-2022', False),
    ('pin with package_manager given', [install(name='tree', version='1', package_manager='apt')], 'custom-1', True),
    ('package manager not known', [install(name='tree', package_manager='pip')], 'debian-12', False),
    ('number as version', [install(name='tree', version=2.1)], 'debian-12', False),
    ('version with a space', [install(name='tree', version='1 2')], 'debian-12', False),
    ('interpreter with shell text', [program(interpreter='bash;reboot')], 'debian-12', False),
    ('interpreter as a path', [program(interpreter='/usr/bin/python3')], 'debian-12', True),
    ('interpreter as an option', [program(interpreter='-c')], 'debian-12', False),
    ('arguments with quotes', [program(args="--name 'two words' $HOME")], 'debian-12', True),
    ('arguments that cannot be split', [program(args='"open')], 'debian-12', False),
    ('two-line program', [program(program='/opt/a\n/opt/b')], 'debian-12', False),
    ('after_clone beside a build-time program', [program(execute_time='after_clone'), program()], 'debian-12', True),
    ('before_clone', [program(execute_time='before_clone')], 'debian-12', True),
    ('other execute_time', [program(execute_time='at_boot')], 'debian-12', False),
    ('copy a directory', [{'copy_content': [{'src': '/srv/range/dir', 'dst': '/opt'}]}], 'debian-12', True),
    ('copy a missing file', [{'copy_content': [{'src': '/nonexistent/kvm-auto', 'dst': '/opt'}]}], 'debian-12', False),
    ('copy from a relative path', [{'copy_content': [{'src': 'motd', 'dst': '/opt'}]}], 'debian-12', False),
    ('copy to a relative path', [{'copy_content': [{'src': '/srv/range/motd', 'dst': 'opt'}]}], 'debian-12', False),
    ('copy to a path with ":"', [{'copy_content': [{'src': '/srv/range/motd', 'dst': '/opt/a:b'}]}], 'debian-12', False),
    ('rules file', [{'firewall_rules': [{'rule': '/srv/range/rules.v4'}]}], 'debian-12', True),
    ('missing rules file', [{'firewall_rules': [{'rule': '/nonexistent/rules'}]}], 'debian-12', False),
    ('parameters as one map', [{'add_account': {'account': 'bob', 'passwd': 'x-1'}}], 'debian-12', False),
    ('no parameter map', [{'add_account': []}], 'debian-12', False),
    ('parameters not a map', [{'add_account': ['bob']}], 'debian-12', False),
    ('two task types', [dict(add('bob'), **install(name='tree'))], 'debian-12', False),
    ('null task types left out', [dict(add('bob'), install_package=None, modify_account=None)], 'debian-12', True),
    ('no task type', [{'add_account': None}], 'debian-12', False),
    ('unknown task type', [{'create_user': [{'account': 'bob'}]}], 'debian-12', False),
    ('runtime task beside a build-time one', [add('bob'), {'emulate_attack': [
        {'attack_type': 'ssh_attack', 'target_account': 'bob', 'attempt_number': 3}]}], 'debian-12', True),
    ('malware at a share', [malware(cpu_utilization=1)], 'debian-12', True),
    ('malware share as text', [malware(cpu_utilization='100')], 'debian-12', True),
    ('malware share above 100', [malware(cpu_utilization=101)], 'debian-12', False),
    ('malware share as a fraction', [malware(cpu_utilization=0.5)], 'debian-12', False),
    ('malware share as a boolean', [malware(cpu_utilization=True)], 'debian-12', False),
    ('malware without its share', [malware()], 'debian-12', False),
    ('malware with the key of the other mode', [malware(cpu_utilization=5, port=80)], 'debian-12', False),
    ('malware listener', [malware('backdoor', 'port_listening', port=65535)], 'debian-12', True),
    ('malware listener with an empty share', [malware('backdoor', 'port_listening', port=80, cpu_utilization='')],
     'debian-12', True),
    ('malware port 0', [malware('backdoor', 'port_listening', port=0)], 'debian-12', False),
    ('malware name of 15', [malware('m' * 15, cpu_utilization=5)], 'debian-12', True),
    ('malware name of 16', [malware('m' * 16, cpu_utilization=5)], 'debian-12', False),
    ('malware name with a slash', [malware('bin/m', cpu_utilization=5)], 'debian-12', False),
    ('malware name with a space', [malware('m m', cpu_utilization=5)], 'debian-12', False),
    ('malware name first dot', [malware('.m', cpu_utilization=5)], 'debian-12', False),
    ('malware name twice', [malware(cpu_utilization=5), malware(cpu_utilization=6)], 'debian-12', False),
    ('malware port twice', [malware('a', 'port_listening', port=80), malware('b', 'port_listening', port='80')],
     'debian-12', False),
    ('malware port twice, once with a leading zero',
     [malware('a', 'port_listening', port=80), malware('b', 'port_listening', port='080')], 'debian-12', False),
    ('malware on another OS', [malware(cpu_utilization=5)], 'fedora-38', True),
    ('not a map', ['add_account'], 'debian-12', False),
]


@pytest.mark.parametrize('tasks, image_name, accepted', [pytest.param(*case[1:], id=case[0]) for case in EDGE_CASES])
def test_edge_cases_get_the_same_verdict(tasks, image_name, accepted, controller, tmp_path):
    assert assert_same_verdict(with_real_paths(tasks, controller), image_name, str(tmp_path)) is accepted


def test_range_reports_every_account_error_with_its_place():
    _accepted, errors, _tasks = range_verdict([add('bob'), add('bob'), modify('alice', new_account='bob'),
                                               modify('root', new_account='root')], 'debian-12')
    assert errors == [
        "guest_settings[0] (id=g).tasks[3].modify_account[0].new_account: 'root' is the current name of the account",
        "guest_settings[0] (id=g).tasks[1].add_account[0].account: 'bob' is already added by tasks[0].add_account[0]",
        "guest_settings[0] (id=g).tasks[2].modify_account[0].new_account: 'bob' is already added by "
        "tasks[0].add_account[0]",
    ]


def test_range_reports_a_version_pin_the_build_could_not_make():
    _accepted, errors, _tasks = range_verdict([install(name='tree', version='1')], 'win-2022')
    assert errors == ["guest_settings[0] (id=g).tasks[0].install_package[0].package_manager: the package manager of "
                      "'win2k22' is unknown, so a version cannot be pinned; give package_manager"]


def test_parity_check_fails_when_one_side_breaks_a_rule(monkeypatch, tmp_path):
    """The comparison itself: with the range's account tracking switched off, it finds the difference."""
    monkeypatch.setattr(_range_tasks, 'follow_accounts', lambda ops: {'errors': [], 'accounts': [], 'passwords': {}})
    with pytest.raises(AssertionError, match='range accepts .* module refuses'):
        assert_same_verdict([add('bob', 'bob')], 'debian-12', str(tmp_path))


# ---------------------------------------------------------------- one definition, everywhere

def test_module_option_spec_is_the_schema():
    spec = kvm_auto_image.ARGUMENT_SPEC['tasks']['options']
    assert spec == _cyris_schema.task_options()
    for ttype in _cyris_schema.BUILD_TASKS:
        keys = _cyris_schema.TASK_TYPES[ttype]
        options = spec[ttype]['options']
        assert sorted(options) == sorted(keys)
        assert sorted(k for k, o in options.items() if o.get('no_log')) == sorted(
            k for k in keys if k in _cyris_schema.SECRET_KEYS)
    assert sorted(spec) == sorted(_cyris_schema.KNOWN_TASKS)
    # The runtime types are refused by normalize_tasks, with the range's word on them.
    assert all(spec[ttype] == {'type': 'raw'} for ttype in _cyris_schema.RUNTIME_TASKS)


def test_module_documentation_matches_the_schema():
    docs = yaml.safe_load(kvm_auto_image.DOCUMENTATION)['options']['tasks']['suboptions']
    for ttype, option in kvm_auto_image.ARGUMENT_SPEC['tasks']['options'].items():
        documented = docs[ttype]
        assert documented['type'] == option['type'], ttype
        for key, spec in (option.get('options') or {}).items():
            entry = documented['suboptions'][key]
            assert (entry['type'], entry.get('required', False), entry.get('choices'), entry.get('default')) == (
                spec['type'], spec.get('required', False), spec.get('choices'), spec.get('default')), (ttype, key)
        assert sorted(documented.get('suboptions') or {}) == sorted(option.get('options') or {}), ttype
    assert str(_cyris_schema.ACCOUNT_RE.pattern).strip('^$') in json.dumps(docs['add_account'])


def test_one_mask_everywhere():
    assert _range_checker.MASK == _runner.MASK == _cyris_schema.MASK
