# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import fnmatch
import glob
import json
import os
import re

import pytest
import yaml

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import RangeError, plain
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_deploy import after_clone_steps
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_details import range_details
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_images import host_image_file, host_image_pattern, image_file_name
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_plan import clone_name, plan_range
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_tasks import final_accounts

DATA = os.path.join(os.path.dirname(__file__), '..', '..', 'data', 'ranges')
GIB = 1024 ** 3
TEMPLATES = {'debian-12': 6 * GIB, 'ubuntu-22.04': 2 * GIB}
FILES = {'/srv/range/motd': 'd1', '/srv/range/rules.v4': 'd2', '/srv/range/setup.sh': 'd3'}
SECRET_KEYS = re.compile(r'pass', re.I)


def plan(data, **kwargs):
    kwargs.setdefault('templates', TEMPLATES)
    kwargs.setdefault('file_digest', FILES.get)
    kwargs.setdefault('salt', 'unit-test-salt')
    return plan_range(data, **kwargs)


def load(path):
    with open(path) as handle:
        text = handle.read()
    return text, yaml.safe_load(text)


def secrets_in(data):
    """Every value held under a key that looks like a password, anywhere in ``data``."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            if SECRET_KEYS.search(str(key)):
                found.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
            found.extend(secrets_in(value))
    elif isinstance(data, list):
        for value in data:
            found.extend(secrets_in(value))
    return found


def base_range(**guest_changes):
    """A minimal valid range; ``guest_changes`` update the one guest."""
    guest = {'id': 'desktop', 'basevm_type': 'kvm-auto', 'image_name': 'debian-12',
             'vcpus': 1, 'memory': 512, 'disk_size': '8G'}
    guest.update(guest_changes)
    return [
        {'host_settings': [{'id': 'host_1', 'mgmt_addr': 'localhost', 'account': 'root'}]},
        {'guest_settings': [guest]},
        {'clone_settings': [{'range_id': 7, 'hosts': [
            {'host_id': 'host_1', 'instance_number': 1, 'guests': [{'guest_id': 'desktop', 'number': 1}]}]}]},
    ]


# ---------------------------------------------------------------- the malformed corpus

BAD = sorted(glob.glob(os.path.join(DATA, 'bad', '*.yml')))


def test_corpus_is_there():
    assert len(BAD) >= 40


@pytest.mark.parametrize('path', BAD, ids=[os.path.basename(p)[:-4] for p in BAD])
def test_bad_range_is_rejected_with_its_place(path):
    text, data = load(path)
    expected = re.findall(r'^# expect: (.*)$', text, re.M)
    assert expected, 'corpus file without "# expect:" lines'
    with pytest.raises(RangeError) as caught:
        plan(data)
    errors = caught.value.errors
    for fragment in expected:
        assert any(fragment in error for error in errors), '%r not in %s' % (fragment, json.dumps(errors, indent=1))
    message = str(caught.value)
    for secret in secrets_in(data):
        assert secret not in message


def test_all_errors_are_reported_at_once():
    _text, data = load(os.path.join(DATA, 'bad', 'many_errors_at_once.yml'))
    with pytest.raises(RangeError) as caught:
        plan(data)
    assert len(caught.value.errors) == 5
    assert str(caught.value).startswith('the range description has 5 errors:\n- host_settings[0]')


# ---------------------------------------------------------------- valid descriptions

GOOD = sorted(glob.glob(os.path.join(DATA, 'good', '*.yml')))


@pytest.mark.parametrize('path', GOOD, ids=[os.path.basename(p)[:-4] for p in GOOD])
def test_good_range_plans(path):
    _text, data = load(path)
    result = plan(data, range_id='9' if 'clone_settings' not in json.dumps(data) else None)
    assert result['vms']
    assert len(set(vm['name'] for vm in result['vms'])) == len(result['vms'])


def test_list_form_groups_places_and_names():
    _text, data = load(os.path.join(DATA, 'good', 'list_form.yml'))
    result = plan(data)
    assert result['range_id'] == '123'
    assert [(vm['name'], vm['host'], vm['instance'], vm['index'], vm['entry_point']) for vm in result['vms']] == [
        ('desktop_cr123_1_1', 'host_1', 1, 1, True),
        ('webserver_cr123_1_1', 'host_1', 1, 1, False),
        ('desktop_cr123_2_1', 'host_1', 2, 1, True),
        ('webserver_cr123_2_1', 'host_1', 2, 1, False),
        ('attacker_cr123_3_1', 'host_2', 3, 1, True),
        ('attacker_cr123_3_2', 'host_2', 3, 2, True),
    ]
    # desktop and webserver differ in vcpus/memory/graphics/NIC model only: one build.
    groups = dict((tuple(image['guests']), image) for image in result['images'])
    assert sorted(groups) == [('attacker',), ('desktop', 'webserver')]
    shared = groups[('desktop', 'webserver')]
    assert shared['hosts'] == ['host_1'] and shared['disk_size'] == '8G'
    assert re.match(r'^kvmauto-debian-12-[0-9a-f]{12}\.qcow2$', shared['name'])
    assert groups[('attacker',)]['hosts'] == ['host_2']
    assert result['copies'] == [
        {'image': shared['name'], 'host': 'host_1', 'inventory_host': 'localhost'},
        {'image': groups[('attacker',)]['name'], 'host': 'host_2', 'inventory_host': 'host_2'},
    ]
    by_name = dict((vm['name'], vm) for vm in result['vms'])
    assert by_name['webserver_cr123_1_1']['graphics'] == {'type': 'none'}
    assert by_name['webserver_cr123_1_1']['network_model'] == 'e1000'
    assert by_name['desktop_cr123_1_1']['graphics'] == {'type': 'vnc', 'listen': '127.0.0.1'}
    assert by_name['attacker_cr123_3_2']['accounts'] == ['red']
    assert groups[('attacker',)]['tasks'][1] == {'install_package': [{'package_manager': 'apt', 'name': 'nmap hydra'}]}


def test_mapping_form_comma_hosts_and_kvm_guests():
    _text, data = load(os.path.join(DATA, 'good', 'mapping_form.yml'))
    result = plan(data)
    assert [(vm['name'], vm['host']) for vm in result['vms']] == [
        ('desktop_cr' + 'web-2_1_1', 'host_a'), ('desktop_crweb-2_1_2', 'host_a'),
        ('desktop_crweb-2_2_1', 'host_a'), ('desktop_crweb-2_2_2', 'host_a'),
        ('desktop_crweb-2_3_1', 'host_b'), ('desktop_crweb-2_3_2', 'host_b'),
        ('desktop_crweb-2_4_1', 'host_b'), ('desktop_crweb-2_4_2', 'host_b'),
        ('legacy_crweb-2_5_1', 'host_a'),
    ]
    legacy = result['vms'][-1]
    assert legacy['basevm_type'] == 'kvm' and legacy['image'] == '/srv/cyris/images/legacy'
    assert len(result['images']) == 1
    assert [c['host'] for c in result['copies']] == ['host_a', 'host_b']
    # Neither host is in the inventory nor local: the role adds them.
    assert [(h['inventory_host'], h['add_host']) for h in result['hosts']] == [('host_a', True), ('host_b', True)]


def test_no_clone_settings_one_vm_per_guest_named_after_it():
    _text, data = load(os.path.join(DATA, 'good', 'no_clones.yml'))
    result = plan(data, range_id=4)
    assert result['range_id'] == '4'
    assert [(vm['name'], vm['host'], vm['instance']) for vm in result['vms']] == [('desktop', 'lab', None)]
    tasks = result['images'][0]['tasks']
    assert tasks == [{'execute_program': [{'program': '/srv/range/setup.sh', 'interpreter': 'bash', 'args': '--quick'}]},
                     {'firewall_rules': [{'rule': '/srv/range/rules.v4'}]}]


def test_no_clone_settings_needs_a_range_id():
    _text, data = load(os.path.join(DATA, 'good', 'no_clones.yml'))
    with pytest.raises(RangeError) as caught:
        plan(data)
    assert caught.value.errors == ['kvm_auto_range_id: needed when the range has no clone_settings (it names the details file)']


def test_range_id_must_match_clone_settings():
    with pytest.raises(RangeError) as caught:
        plan(base_range(), range_id='8')
    assert caught.value.errors == ["kvm_auto_range_id: '8' differs from clone_settings range_id '7'"]
    assert plan(base_range(), range_id=7)['range_id'] == '7'


def test_variables_form_without_hosts_runs_on_the_controller():
    guests = base_range()[1]['guest_settings']
    result = plan({'guest_settings': guests}, variables=True, range_id='lab1')
    assert result['hosts'][0]['id'] == 'localhost' and result['hosts'][0]['inventory_host'] == 'localhost'
    assert [vm['name'] for vm in result['vms']] == ['desktop']
    with pytest.raises(RangeError) as caught:
        plan({'guest_settings': guests}, range_id='lab1')
    assert caught.value.errors == ['missing section host_settings']


# ---------------------------------------------------------------- grouping by image configuration

SHARED = [
    ('vcpus', {'vcpus': 4}),
    ('memory', {'memory': 2048}),
    ('graphics', {'graphics_type': 'spice'}),
    ('network model', {'network_model': 'rtl8139'}),
    ('same size other unit', {'disk_size': '8192M'}),
    ('osinfo', {'os_variant': 'debian11'}),
]
SPLIT = [
    ('image', {'image_name': 'ubuntu-22.04'}),
    ('disk size', {'disk_size': '10G'}),
    ('tasks', {'tasks': [{'add_account': [{'account': 'bob', 'passwd': 'x-1234'}]}]}),
    ('password', {'tasks': [{'add_account': [{'account': 'alice', 'passwd': 'other-pw'}]}]}),
    ('task order', {'tasks': [{'install_package': [{'name': 'vim'}]}, {'add_account': [{'account': 'alice', 'passwd': 'pw-1234'}]}]}),
]
BASE_TASKS = [{'add_account': [{'account': 'alice', 'passwd': 'pw-1234'}]}, {'install_package': [{'name': 'vim'}]}]


def two_guests(second_changes):
    data = base_range(tasks=copy.deepcopy(BASE_TASKS))
    second = dict(data[1]['guest_settings'][0], id='server', tasks=copy.deepcopy(BASE_TASKS))
    second.update(second_changes)
    data[1]['guest_settings'].append(second)
    data[2]['clone_settings'][0]['hosts'][0]['guests'].append({'guest_id': 'server', 'number': 2})
    return data


@pytest.mark.parametrize('what,changes', SHARED, ids=[c[0] for c in SHARED])
def test_guests_differing_outside_the_disk_share_one_build(what, changes):
    result = plan(two_guests(changes))
    assert len(result['images']) == 1, what
    assert result['images'][0]['guests'] == ['desktop', 'server']
    assert len(result['copies']) == 1


@pytest.mark.parametrize('what,changes', SPLIT, ids=[c[0] for c in SPLIT])
def test_guests_differing_in_the_disk_get_separate_builds(what, changes):
    result = plan(two_guests(changes))
    assert len(result['images']) == 2, what
    assert len(set(i['name'] for i in result['images'])) == 2


def test_image_names_are_stable_and_keyed():
    data = two_guests({})
    first = plan(data)['images'][0]['name']
    assert plan(copy.deepcopy(data))['images'][0]['name'] == first
    assert plan(data, salt='another-controller')['images'][0]['name'] != first
    # A changed file that a task copies gives a new image.
    files = dict(FILES)
    with_copy = two_guests({})
    for guest in with_copy[1]['guest_settings']:
        guest['tasks'].append({'copy_content': [{'src': '/srv/range/motd', 'dst': '/etc/motd'}]})
    before = plan(with_copy, file_digest=files.get)['images'][0]['name']
    files['/srv/range/motd'] = 'changed'
    assert plan(with_copy, file_digest=files.get)['images'][0]['name'] != before


def test_image_name_does_not_reveal_the_configuration_without_the_salt():
    config = {'image_name': 'debian-12', 'disk_size': '8G', 'format': 'qcow2',
              'tasks': [{'add_account': [{'account': 'a', 'passwd': 'guessable'}]}]}
    salted, _digest = image_file_name(config, salt='s3cret')
    unsalted, digest = image_file_name(config)
    assert salted != unsalted
    assert unsalted == 'kvmauto-debian-12-%s.qcow2' % digest[:12]


def test_relative_task_paths_resolve_against_the_range_directory():
    data = base_range(tasks=[{'copy_content': [{'src': 'motd', 'dst': '/etc/motd'}]}])
    result = plan(data, base_dir='/srv/range')
    assert result['images'][0]['tasks'] == [{'copy_content': [{'src': '/srv/range/motd', 'dst': '/etc/motd'}]}]
    with pytest.raises(RangeError) as caught:
        plan(data)
    assert "'motd' is a relative path" in caught.value.errors[0]


# ---------------------------------------------------------------- names, hosts, inventory

@pytest.mark.parametrize('guest,range_id,instance,index,expected', [
    ('desktop', '123', 1, 1, 'desktop_cr123_1_1'),
    ('web-server', 'blue-team', 12, 3, 'web-server_crblue-team_12_3'),
    ('a_b', '1', 2, 10, 'a_b_cr1_2_10'),
])
def test_clone_name(guest, range_id, instance, index, expected):
    assert clone_name(guest, range_id, instance, index) == expected


@pytest.mark.parametrize('inventory,host_ids,expected', [
    ([], {}, ('localhost', False)),
    (['host_1'], {}, ('host_1', False)),
    (['kvm01.example.org'], {'kvm01.example.org': 'host_1'}, ('kvm01.example.org', False)),
])
def test_local_and_inventory_hosts(inventory, host_ids, expected):
    result = plan(base_range(), inventory_hosts=inventory, inventory_host_ids=host_ids)
    host = result['hosts'][0]
    assert (host['inventory_host'], host['add_host']) == expected
    assert result['vms'][0]['inventory_host'] == expected[0]


def test_remote_host_not_in_inventory_is_added():
    data = base_range()
    data[0]['host_settings'][0]['mgmt_addr'] = '192.0.2.5'
    host = plan(data)['hosts'][0]
    assert (host['inventory_host'], host['add_host'], host['account']) == ('host_1', True, 'root')


def test_unused_guest_is_warned_about_and_not_built():
    data = two_guests({'image_name': 'ubuntu-22.04'})
    data[2]['clone_settings'][0]['hosts'][0]['guests'].pop()
    result = plan(data)
    assert len(result['images']) == 1
    assert result['warnings'] == [
        'guest_settings[1] (id=server): not used by clone_settings: nothing is built or created for it']


def test_templates_unknown_or_given_as_names():
    data = base_range(image_name='fedora-38')
    assert plan(data, templates=None)['images'][0]['image_name'] == 'fedora-38'
    with pytest.raises(RangeError):
        plan(data, templates=['debian-12'])


def test_final_accounts_follow_renames():
    tasks = [{'add_account': [{'account': 'a', 'passwd': 'p'}, {'account': 'b', 'passwd': 'p'}]},
             {'modify_account': [{'account': 'a', 'new_account': 'c'}, {'account': 'root', 'new_passwd': 'p'}]}]
    assert final_accounts(tasks) == ['c', 'b']


def test_plain_strips_subclasses():
    class Tagged(str):
        pass

    class LazyDict(dict):
        pass

    value = plain(LazyDict({Tagged('a'): [Tagged('b'), 1, True, None]}))
    assert value == {'a': ['b', 1, True, None]}
    assert list(value)[0].__class__ is str and value['a'][0].__class__ is str


# ---------------------------------------------------------------- details

def test_details_hold_domains_macs_addresses_and_no_passwords():
    _text, data = load(os.path.join(DATA, 'good', 'list_form.yml'))
    result = plan(data)
    shared = result['images'][0]['name'] if result['images'][0]['guests'] == ['desktop', 'webserver'] else result['images'][1]['name']
    vm_results = {'desktop_cr123_1_1': {'state': 'running', 'uuid': 'u-1',
                                        'interfaces': [{'mac': '52:54:00:AA:BB:01', 'network': 'cyris'}]}}
    details = range_details(result, vm_results, {'52:54:00:aa:bb:01': '10.0.0.5'}, {shared: {'checksum': 'sha256:' + '0a' * 32}})
    text = yaml.safe_dump(details)
    for secret in secrets_in(data):
        assert secret not in text
    desktop = details['guests'][0]
    assert desktop['accounts'] == ['trainee'] and desktop['image_checksum'] == 'sha256:' + '0a' * 32
    first = desktop['domains'][0]
    assert (first['name'], first['state'], first['address']) == ('desktop_cr123_1_1', 'running', '10.0.0.5')
    assert first['interfaces'] == [{'mac': '52:54:00:aa:bb:01', 'network': 'cyris', 'address': '10.0.0.5'}]
    assert desktop['domains'][1]['state'] is None
    assert [h['id'] for h in details['hosts']] == ['host_1', 'host_2']
    assert 'tasks' not in text


# ---------------------------------------------------------------- image files on the hosts

@pytest.mark.parametrize('name, checksum, expected', [
    ('kvmauto-debian-12-0123456789ab.qcow2', 'sha256:' + 'f0' * 32, 'kvmauto-debian-12-0123456789ab.' + 'f0' * 8 + '.qcow2'),
    ('kvmauto-debian-12-0123456789ab.qcow2', 'e1' * 32, 'kvmauto-debian-12-0123456789ab.' + 'e1' * 8 + '.qcow2'),
    ('kvmauto-debian-12-0123456789ab.qcow2', None, None),
    ('kvmauto-debian-12-0123456789ab.qcow2', '', None),
])
def test_host_image_file_is_named_after_the_content(name, checksum, expected):
    assert host_image_file(name, checksum) == expected
    if expected:
        assert fnmatch.fnmatchcase(expected, host_image_pattern(name))
        # Another image's files never match.
        assert not fnmatch.fnmatchcase(expected, host_image_pattern('kvmauto-debian-12-0123456789ac.qcow2'))


@pytest.mark.parametrize('checksum', ['sha256:abc', 'sha1:' + 'a' * 40, 'sha256:' + 'G' * 64, 'sha256:../' + 'a' * 61])
def test_host_image_file_refuses_what_is_not_a_sha256(checksum):
    with pytest.raises(ValueError, match='is not a sha256 checksum'):
        host_image_file('kvmauto-debian-12-0123456789ab.qcow2', checksum)


def test_after_clone_programs_go_to_every_clone_not_into_the_image():
    _text, data = load(os.path.join(DATA, 'good', 'after_clone.yml'))
    result = plan(data)
    assert result['images'][0]['tasks'] == [{'execute_program': [{'program': '/srv/range/build.sh', 'interpreter': 'sh'}]}]
    assert [vm['after_clone'] for vm in result['vms']] == [[{
        'argv': ['bash', '/srv/range/setup.sh', '--clone', 'first clone'],
        'label': 'guest_settings[0] (id=desktop).tasks[0].execute_program[0]'}]]


@pytest.mark.parametrize('names,expected', [
    (None, ['desktop_cr5_1_1']),
    (['desktop_cr5_1_1'], ['desktop_cr5_1_1']),
    # A reset of other guests runs nothing here.
    (['other_cr5_1_1'], []),
])
def test_after_clone_steps_name_each_guest_its_host_and_programs(names, expected):
    _text, data = load(os.path.join(DATA, 'good', 'after_clone.yml'))
    steps = after_clone_steps(plan(data), names)
    assert [s['name'] for s in steps] == expected
    for step in steps:
        assert step['inventory_host'] == 'localhost'
        assert [p['argv'][0] for p in step['programs']] == ['bash']
