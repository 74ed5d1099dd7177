# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Entry points: which guest is each instance's door, its trainee account and access NIC; reset choices."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os

import pytest
import yaml

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import parse_identity
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import RangeError
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_deploy import deploy_steps, host_layout
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_details import range_details
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_entry import (
    DEFAULTS, access_entries, check_settings, parse_ports, reset_selection)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_plan import plan_range

DMZ = os.path.join(os.path.dirname(__file__), '..', '..', 'data', 'ranges', 'good', 'topology_dmz.yml')
TEMPLATES = {'debian-12': 6 * 1024 ** 3}


def dmz_data():
    with open(DMZ) as handle:
        return yaml.safe_load(handle)


def plan_of(data=None, **settings):
    return plan_range(data if data is not None else dmz_data(), templates=TEMPLATES, salt='s',
                      entry_settings=dict(DEFAULTS, **settings))


def errors_of(data=None, **settings):
    with pytest.raises(RangeError) as info:
        plan_of(data, **settings)
    return info.value.errors


def vm_of(plan, name):
    return next(vm for vm in plan['vms'] if vm['name'] == name)


def test_clone_1_of_the_entry_point_guest_is_each_instance_door():
    plan = plan_of()
    doors = [(vm['name'], vm['trainee']['name']) for vm in plan['vms'] if vm['trainee']]
    # pc has two clones per instance: only the first is the entry point, as in CyRIS.
    assert doors == [('pc_cr125_1_1', 'trainee01'), ('pc_cr125_2_1', 'trainee02')]
    assert vm_of(plan, 'pc_cr125_1_2')['access'] is None


def test_the_access_nic_comes_last_in_the_identity_with_its_own_address():
    vm = vm_of(plan_of(), 'pc_cr125_1_1')
    assert vm['access'] == {'subnet': '100.127.255.0/24', 'mac': '52:54:64:7f:ff:0f', 'listen': '0.0.0.0',
                            'guest_port': 22}
    identity = parse_identity(vm['identity'])
    assert identity['addresses'][-1] == {'mac': '52:54:64:7f:ff:0f', 'address': '100.127.255.15/24'}
    assert identity['addresses'][0]['address'] == '125.1.1.2/24'
    # The password hash is added by kvm_auto_vm from kvm_auto_access, never by the plan.
    assert identity.get('trainee') is None


def test_accounts_restart_on_each_host_as_in_cyris():
    data = dmz_data()
    data[0]['host_settings'].append({'id': 'host_2', 'mgmt_addr': '192.0.2.20', 'account': 'root'})
    data[2]['clone_settings'][0]['hosts'][0]['host_id'] = 'host_1,host_2'
    plan = plan_of(data)
    doors = [(vm['host'], vm['instance'], vm['trainee']['name']) for vm in plan['vms'] if vm['trainee']]
    assert doors == [('host_1', 1, 'trainee01'), ('host_1', 2, 'trainee02'),
                     ('host_2', 3, 'trainee01'), ('host_2', 4, 'trainee02')]


def test_settings_shape_the_accounts_and_the_access():
    plan = plan_of(trainee_prefix='student', trainee_sudo=False, trainee_listen='192.0.2.5',
                   access_subnet='100.64.7.0/27')
    vm = vm_of(plan, 'pc_cr125_2_1')
    assert vm['trainee'] == {'name': 'student02', 'sudo': False}
    assert (vm['access']['listen'], vm['access']['subnet']) == ('192.0.2.5', '100.64.7.0/27')
    assert parse_identity(vm['identity'])['addresses'][-1]['address'] == '100.64.7.15/27'


def test_only_entry_point_images_need_an_ssh_server():
    data = dmz_data()
    data[1]['guest_settings'][0]['tasks'] = [{'install_package': [{'name': 'nginx'}]}]
    plan = plan_of(data)
    needs = dict((tuple(i['guests']), i['require_ssh']) for i in plan['images'])
    assert needs == {('pc',): True, ('web', 'firewall'): False}


def test_a_range_without_entry_point_has_no_access():
    data = dmz_data()
    del data[2]['clone_settings'][0]['hosts'][0]['guests'][0]['entry_point']
    plan = plan_of(data)
    assert [vm for vm in plan['vms'] if vm['trainee'] or vm['access']] == []
    assert all(not i['require_ssh'] for i in plan['images'])


@pytest.mark.parametrize('settings,expected', [
    ({'trainee_ports': '60000-60001'}, []),
    ({'trainee_ports': '60000'}, ['kvm_auto_range_trainee_ports: 60000 has 1 port, but the range has 2 instances '
                                  'with an entry point, one port each']),
    ({'trainee_ports': '65000-60000'}, ["kvm_auto_range_trainee_ports: '65000-60000' is not a port range such as "
                                        "60000-65000 (ports 1-65535, first <= last)"]),
    ({'trainee_prefix': 'Trainee'}, ["kvm_auto_range_trainee_prefix: 'Trainee01' is not a valid account name "
                                     "(a lower-case letter or _, then up to 31 of a-z 0-9 _ . -)"]),
    ({'trainee_listen': 'any'}, ["kvm_auto_range_trainee_listen: 'any' is not an IPv4 address (0.0.0.0: every "
                                 "address of the host)"]),
    ({'access_subnet': '100.127.255.0/30'}, ["kvm_auto_range_access_subnet: access.subnet '100.127.255.0/30' must "
                                             "have a prefix of 8 to 27 (the guest takes its .15 address)"]),
    ({'access_subnet': '125.2.0.0/16'}, [
        "network office of instance 2 (125.2.1.0/24) overlaps kvm_auto_range_access_subnet 125.2.0.0/16, the entry "
        "points' access link: choose another access subnet",
        "network dmz of instance 2 (125.2.2.0/24) overlaps kvm_auto_range_access_subnet 125.2.0.0/16, the entry "
        "points' access link: choose another access subnet"]),
])
def test_setting_errors_name_the_variable(settings, expected):
    if not expected:
        assert plan_of(**settings)
        return
    assert [e.split(': ', 1)[-1] if e.startswith(': ') else e for e in errors_of(**settings)] == expected


def test_a_kvm_guest_cannot_be_the_entry_point():
    data = dmz_data()
    data[1]['guest_settings'][0] = {'id': 'pc', 'basevm_type': 'kvm', 'basevm_host': 'host_1',
                                    'basevm_config_file': '/srv/pc.xml'}
    errors = errors_of(data)
    assert any('guest pc (entry point of instance 1): a kvm guest has no identity service' in e for e in errors), errors


@pytest.mark.parametrize('text,expected', [('60000-65000', (60000, 65000)), ('2222', (2222, 2222)),
                                           (' 1-1 ', (1, 1))])
def test_parse_ports(text, expected):
    assert parse_ports(text) == expected


@pytest.mark.parametrize('text', ['', '0-10', '60000-70000', 'a-b', '10-', '-10', '1-2-3'])
def test_parse_ports_refuses(text):
    with pytest.raises(ValueError):
        parse_ports(text)


def test_check_settings_of_the_defaults_is_clean():
    assert check_settings(DEFAULTS) == []


def test_access_entries_use_the_trainee_address_of_the_host():
    plan = plan_of()
    for vm in plan['vms']:
        vm['inventory_host'] = 'localhost'
    plan['hosts'][0]['inventory_host'] = 'localhost'
    assert access_entries(plan, {}) == [
        {'instance': 1, 'guest': 'pc_cr125_1_1', 'host': 'localhost', 'address': 'localhost', 'account': 'trainee01',
         'sudo': True},
        {'instance': 2, 'guest': 'pc_cr125_2_1', 'host': 'localhost', 'address': 'localhost', 'account': 'trainee02',
         'sudo': True}]
    entries = access_entries(plan, {'localhost': {'kvm_auto_range_trainee_address': 'range.example.org'}})
    assert [e['address'] for e in entries] == ['range.example.org'] * 2
    assert [e['address'] for e in access_entries(plan, {}, '198.51.100.1')] == ['198.51.100.1'] * 2


def _deployed_plan():
    plan = plan_of()
    for vm in plan['vms']:
        vm['inventory_host'] = 'localhost'
    plan['hosts'][0]['inventory_host'] = 'localhost'
    plan['hosts'][0]['used'] = True
    return plan


def test_the_port_reaches_the_guest_arguments_and_the_details():
    plan = _deployed_plan()
    layout = host_layout(plan, {}, {'image_dir': '/i', 'disk_dir': '/d', 'uri': 'qemu:///system'})
    access = [{'instance': 1, 'guest': 'pc_cr125_1_1', 'host': 'localhost', 'address': '192.0.2.1', 'port': 60003,
               'account': 'trainee01'}]
    steps = deploy_steps(plan, layout, [], '/b', 'default', access=access)
    args = dict((g['name'], g) for g in steps['guests'])
    assert args['pc_cr125_1_1']['access'] == {'subnet': '100.127.255.0/24', 'mac': '52:54:64:7f:ff:0f',
                                              'listen': '0.0.0.0', 'guest_port': 22, 'port': 60003}
    # No port (not known yet): no access NIC rather than a wrong one.
    assert args['pc_cr125_2_1']['access'] is None
    assert args['web_cr125_1_1']['access'] is None
    details = range_details(plan, access=access)
    instance = details['hosts'][0]['instances'][0]
    assert instance['access'] == {'address': '192.0.2.1', 'port': 60003, 'account': 'trainee01'}
    assert 'access' not in details['hosts'][0]['instances'][1]
    assert 'password' not in repr(details)


@pytest.mark.parametrize('instances,guests,errors', [
    ('all', 8, []),
    ([1], 4, []),
    ('2', 4, []),
    ('[1, 2]', 8, []),
    ('1,1', 4, []),
    ([3], 0, ["kvm_auto_range_reset_instances: instance 3 does not exist: range 125 has instances 1-2"]),
    ('3', 0, ["kvm_auto_range_reset_instances: instance 3 does not exist: range 125 has instances 1-2"]),
    (['x', 2], 0, ["kvm_auto_range_reset_instances: instance 'x' does not exist: range 125 has instances 1-2"]),
])
def test_reset_selection(instances, guests, errors):
    names, found = reset_selection(plan_of(), instances)
    assert (len(names), found) == (guests, errors)
    if names and instances == [1]:
        assert all('_cr125_1_' in n for n in names)


def test_reset_of_a_range_without_instances():
    plan = {'range_id': '7', 'vms': [{'name': 'pc', 'instance': None}]}
    assert reset_selection(copy.deepcopy(plan), 'all') == (
        [], ['kvm_auto_range_reset_instances: range 7 has no instances (no clone_settings): nothing to reset'])
