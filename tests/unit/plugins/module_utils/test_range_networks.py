# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The topology networks of a range: names, bridges, CyRIS addresses, gateways, rules, identities."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_networks import (
    bridge_name,
    check_addressing,
    host_name_of,
    mac_of,
    route_conflicts,
)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_details import range_details
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_plan import plan_range

DMZ = os.path.join(os.path.dirname(__file__), '..', '..', 'data', 'ranges', 'good', 'topology_dmz.yml')


def dmz_plan(**kwargs):
    with open(DMZ) as handle:
        return plan_range(yaml.safe_load(handle), templates={'debian-12': 6 * 1024 ** 3}, salt='s', **kwargs)


def vm_of(plan, name):
    return next(vm for vm in plan['vms'] if vm['name'] == name)


def test_one_network_per_instance_and_cyris_network():
    plan = dmz_plan()
    assert [(n['name'], n['bridge'], n['subnet'], n['gateway'], n['gateway_domain']) for n in plan['networks']] == [
        ('cr125-1-office', 'kvr125-1-1', '125.1.1.0/24', '125.1.1.4', 'firewall_cr125_1_1'),
        ('cr125-1-dmz', 'kvr125-1-2', '125.1.2.0/24', '125.1.2.3', 'firewall_cr125_1_1'),
        ('cr125-2-office', 'kvr125-2-1', '125.2.1.0/24', '125.2.1.4', 'firewall_cr125_2_1'),
        ('cr125-2-dmz', 'kvr125-2-2', '125.2.2.0/24', '125.2.2.3', 'firewall_cr125_2_1'),
    ]
    assert set(n['inventory_host'] for n in plan['networks']) == {'localhost'}


def test_members_from_2_in_order_then_the_gateway():
    plan = dmz_plan()
    nics = dict((vm['name'], [(n['label'], n['network'], n['address'], n['mac']) for n in vm['nics']]) for vm in plan['vms'])
    assert nics['pc_cr125_1_1'] == [('eth0', 'cr125-1-office', '125.1.1.2', '52:54:7d:01:01:02')]
    assert nics['pc_cr125_1_2'] == [('eth0', 'cr125-1-office', '125.1.1.3', '52:54:7d:01:01:03')]
    assert nics['web_cr125_2_1'] == [('eth0', 'cr125-2-dmz', '125.2.2.2', '52:54:7d:02:02:02')]
    assert nics['firewall_cr125_1_1'] == [('eth0', 'cr125-1-office', '125.1.1.4', '52:54:7d:01:01:04'),
                                          ('eth1', 'cr125-1-dmz', '125.1.2.3', '52:54:7d:01:02:03')]


def test_members_route_through_their_gateway_which_forwards_only_what_rules_allow():
    plan = dmz_plan()
    pc, firewall = vm_of(plan, 'pc_cr125_2_1'), vm_of(plan, 'firewall_cr125_2_1')
    assert (pc['gateway'], pc['forwarding']) == ('125.2.1.4', False)
    assert (firewall['gateway'], firewall['forwarding']) == (None, True)
    # pc, web and firewall share one image, which must be able to forward.
    assert [i['require_forwarding'] for i in plan['images']] == [True]
    # pc_cr125_2_1 is instance 2's entry point: its access NIC comes after its topology NIC.
    assert pc['identity'] == ('kvm-auto-identity 1\nhostname pc-cr125-2-1\n'
                              'address 52:54:7d:02:01:02 125.2.1.2/24\n'
                              'address 52:54:64:7f:ff:0f 100.127.255.15/24\ngateway 125.2.1.4\n'
                              'reply-via 52:54:64:7f:ff:0f 100.127.255.2\n')
    assert firewall['identity'] == (
        'kvm-auto-identity 1\nhostname firewall-cr125-2-1\n'
        'address 52:54:7d:02:01:04 125.2.1.4/24\naddress 52:54:7d:02:02:03 125.2.2.3/24\nforwarding on\n'
        'accept tcp 125.2.1.2,125.2.1.3 125.2.2.2 - 80,443\n'
        'accept tcp 125.2.2.2 125.2.1.2,125.2.1.3 1024:65535 -\n')


def test_an_address_prefix_numbers_the_networks_of_the_whole_range():
    plan = dmz_plan(address_prefix='10.20.0.0/16')
    assert [n['subnet'] for n in plan['networks']] == ['10.20.1.0/24', '10.20.2.0/24', '10.20.3.0/24', '10.20.4.0/24']
    assert vm_of(plan, 'pc_cr125_2_1')['gateway'] == '10.20.3.4'


def test_guests_outside_a_topology_have_no_nics_of_their_own():
    plan = dmz_plan()
    data = yaml.safe_load(open(DMZ))
    del data[2]['clone_settings'][0]['hosts'][0]['topology']
    for guest in data[2]['clone_settings'][0]['hosts'][0]['guests']:
        guest.pop('forwarding_rules', None)
    plain = plan_range(data, salt='s')
    assert plain['networks'] == [] and all(vm['nics'] == [] for vm in plain['vms'])
    assert [i['require_forwarding'] for i in plain['images']] == [False]
    assert vm_of(plain, 'pc_cr125_1_2')['identity'] == 'kvm-auto-identity 1\nhostname pc-cr125-1-2\n'
    # An entry point outside a topology still has its access NIC.
    assert vm_of(plain, 'pc_cr125_1_1')['identity'] == ('kvm-auto-identity 1\nhostname pc-cr125-1-1\n'
                                                        'address 52:54:64:7f:ff:0f 100.127.255.15/24\n'
                                                        'reply-via 52:54:64:7f:ff:0f 100.127.255.2\n')
    assert len(plan['vms']) == len(plain['vms'])


@pytest.mark.parametrize('range_id,prefix,problem', [
    ('125', None, None),
    ('1', None, None),
    ('223', None, None),
    ('127', None, 'cannot be the first octet'),
    ('224', None, 'cannot be the first octet'),
    ('0', None, 'cannot be the first octet'),
    ('lab-a', None, 'cannot be the first octet'),
    ('lab-a', '10.20.0.0/16', None),
    ('5', '10.20.0.0/24', 'is not a /16'),
    ('5', '10.20.1.0/16', 'is not an IPv4 network'),
    ('5', 'ten', 'is not an IPv4 network'),
])
def test_check_addressing(range_id, prefix, problem):
    errors = check_addressing(range_id, prefix, 'clone_settings[0].range_id')
    if problem is None:
        assert errors == []
    else:
        assert len(errors) == 1 and problem in errors[0]


@pytest.mark.parametrize('range_id,instance,segment,name,expected', [
    ('125', 1, 2, 'dmz', 'kvr125-1-2'),
    ('12345', 100, 12, 'dmz', 'kvr12345-100-12'),
])
def test_bridge_name_cyris_like_when_it_fits(range_id, instance, segment, name, expected):
    assert bridge_name(range_id, instance, segment, name) == expected


def test_bridge_name_hashed_when_too_long():
    long_one = bridge_name('99999999', 100, 12, 'dmz')
    assert len(long_one) == 15 and long_one.startswith('kvr')
    assert long_one == bridge_name('99999999', 100, 12, 'dmz')
    assert long_one != bridge_name('99999999', 100, 12, 'office')


@pytest.mark.parametrize('address,mac', [('125.1.1.2', '52:54:7d:01:01:02'), ('10.20.255.254', '52:54:0a:14:ff:fe')])
def test_mac_of(address, mac):
    assert mac_of(address) == mac


def test_host_name_of():
    assert host_name_of('Web_cr125_1_2') == 'web-cr125-1-2'


ROUTES = [
    {'dst': 'default', 'gateway': '192.168.1.1', 'dev': 'eth0'},
    {'dst': '192.168.1.0/24', 'dev': 'eth0'},
    {'type': 'local', 'dst': '125.1.2.9', 'dev': 'eth1', 'table': 'local'},
]


@pytest.mark.parametrize('routes,expected', [
    ([ROUTES[0], ROUTES[1]], []),
    (ROUTES, ["host localhost: network dmz of instance 1 (125.1.2.0/24) overlaps 125.1.2.9 (dev eth1) already on "
              "this host: use another range id, or kvm_auto_range_address_prefix"]),
    ([{'dst': '125.0.0.0/8', 'dev': 'tun0'}], 4),
])
def test_route_conflicts(routes, expected):
    errors = route_conflicts(dmz_plan()['networks'], {'localhost': routes})
    assert (len(errors) if isinstance(expected, int) else errors) == expected


def test_details_keep_cyris_fields_for_each_guest():
    plan = dmz_plan()
    for vm in plan['vms']:
        vm['inventory_host'] = 'localhost'
    details = range_details(plan)
    host = details['hosts'][0]
    assert (host['host_id'], host['instance_count']) == ('host_1', 2)
    guests = dict((g['kvm_domain'], g) for g in host['instances'][1]['guests'])
    assert guests['pc_cr125_2_1'] == {'guest_id': 'pc', 'kvm_domain': 'pc_cr125_2_1', 'ip_addrs': {'eth0': '125.2.1.2'},
                                      'gateways': {'eth0': '125.2.1.4'}, 'networks': {'eth0': 'office'}}
    assert guests['firewall_cr125_2_1']['ip_addrs'] == {'eth0': '125.2.1.4', 'eth1': '125.2.2.3'}
    assert guests['firewall_cr125_2_1']['firewall_rule'] == {
        'rule0': 'sysctl -w net.ipv4.ip_forward=1',
        'rule1': 'iptables -A FORWARD -p tcp -s 125.2.1.2,125.2.1.3 -d 125.2.2.2 -m multiport --dports 80,443 '
                 '-m conntrack --ctstate NEW -j ACCEPT',
        'rule2': 'iptables -A FORWARD -p tcp -s 125.2.2.2 -d 125.2.1.2,125.2.1.3 --sport 1024:65535 '
                 '-m conntrack --ctstate NEW -j ACCEPT',
        'rule3': 'iptables -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        'rule4': 'iptables -P FORWARD DROP'}
    assert [(n['name'], n['subnet'], n['bridge'], n['gateway']) for n in details['networks']][:1] == [
        ('cr125-1-office', '125.1.1.0/24', 'kvr125-1-1', '125.1.1.4')]
    domain = next(d for g in details['guests'] for d in g['domains'] if d['name'] == 'pc_cr125_1_1')
    assert domain['interfaces'] == [{'mac': '52:54:7d:01:01:02', 'network': 'cr125-1-office', 'label': 'eth0',
                                     'address': '125.1.1.2', 'prefix': 24, 'cyris_network': 'office'}]
