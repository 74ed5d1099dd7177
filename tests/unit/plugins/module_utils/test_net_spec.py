# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._net_spec import (
    NetError, check_bridge, desired_network, guest_ports, loose_ports, network_xml, parse_network_xml, plug_argv)

NS = 'https://github.com/cyris-kvm-auto/cyris.kvm_auto/network/1'
PARAMS = {'name': 'cr123-1-office', 'state': 'present', 'bridge': 'kvr123-1-1', 'owner': 'cr123', 'mtu': None,
          'uri': 'qemu:///system'}

# What libvirt 9 (qemu driver) gives back for a network the module defined.
DEFINED = '''<network>
  <name>cr123-1-office</name>
  <uuid>b477ecef-b642-4bb7-9add-66186b182d8b</uuid>
  <metadata>
    <kvmauto:network xmlns:kvmauto="%s" owner="cr123"/>
  </metadata>
  <bridge name='kvr123-1-1' stp='off' delay='0'/>
  <mac address='52:54:00:97:a0:e3'/>
</network>''' % NS


@pytest.mark.parametrize('bridge', ['kvr123-1-1', 'kvr0123456789ab', 'br_0.lab', 'x'])
def test_check_bridge_accepts(bridge):
    check_bridge(bridge)


@pytest.mark.parametrize('bridge, message', [
    ('kvr0123456789abc', r"^bridge: 'kvr0123456789abc' is longer than 15 characters$"),
    ('', r'^bridge: required with state=present$'),
    (None, r'^bridge: required with state=present$'),
    ('br/0', r"^bridge: 'br/0' is not a Linux interface name"),
    ('br:0', r"^bridge: 'br:0' is not a Linux interface name"),
    ('br 0', r"^bridge: 'br 0' is not a Linux interface name"),
    ('virbr%d', r"^bridge: 'virbr%d' is not a Linux interface name"),
    ('..', r"^bridge: '\.\.' is not a Linux interface name"),
])
def test_check_bridge_refuses(bridge, message):
    with pytest.raises(NetError, match=message):
        check_bridge(bridge)


def test_desired_network():
    assert desired_network(dict(PARAMS, mtu=9000)) == {
        'name': 'cr123-1-office', 'owner': 'cr123', 'bridge': 'kvr123-1-1', 'stp': 'off', 'delay': '0', 'mtu': 9000,
        'extra': []}


@pytest.mark.parametrize('change, message', [
    ({'owner': None}, r'^owner: required with state=present$'),
    ({'owner': ' '}, r'^owner: must not be empty$'),
    ({'bridge': None}, r'^bridge: required with state=present$'),
    ({'bridge': 'x' * 16}, r'^bridge: .* is longer than 15 characters$'),
    ({'mtu': 67}, r'^mtu: 67 is not between 68 and 65535$'),
    ({'mtu': 65536}, r'^mtu: 65536 is not between 68 and 65535$'),
])
def test_desired_network_refuses(change, message):
    with pytest.raises(NetError, match=message):
        desired_network(dict(PARAMS, **change))


def test_absent_needs_only_the_name():
    assert desired_network({'name': 'n', 'state': 'absent', 'bridge': None, 'owner': None, 'mtu': None}) == {
        'name': 'n', 'owner': None}


@pytest.mark.parametrize('mtu, uuid, mac, expected', [
    (None, None, None,
     '<network><name>cr123-1-office</name><metadata><kvmauto:network xmlns:kvmauto="%s" owner="cr123" /></metadata>'
     '<bridge name="kvr123-1-1" stp="off" delay="0" /></network>' % NS),
    (9000, 'b477ecef-b642-4bb7-9add-66186b182d8b', '52:54:00:97:a0:e3',
     '<network><name>cr123-1-office</name><uuid>b477ecef-b642-4bb7-9add-66186b182d8b</uuid>'
     '<metadata><kvmauto:network xmlns:kvmauto="%s" owner="cr123" /></metadata>'
     '<bridge name="kvr123-1-1" stp="off" delay="0" /><mac address="52:54:00:97:a0:e3" /><mtu size="9000" /></network>' % NS),
])
def test_network_xml(mtu, uuid, mac, expected):
    assert network_xml(desired_network(dict(PARAMS, mtu=mtu)), uuid=uuid, mac=mac) == expected


def test_network_xml_reads_back_as_desired():
    desired = desired_network(dict(PARAMS, mtu=1400))
    parsed = parse_network_xml(network_xml(desired))
    assert dict((k, parsed[k]) for k in desired if k != 'owner') == dict((k, v) for k, v in desired.items() if k != 'owner')
    assert parsed['ours'] == {'owner': 'cr123'}


def test_parse_defined_network():
    assert parse_network_xml(DEFINED) == {
        'name': 'cr123-1-office', 'uuid': 'b477ecef-b642-4bb7-9add-66186b182d8b', 'mac': '52:54:00:97:a0:e3',
        'bridge': 'kvr123-1-1', 'stp': 'off', 'delay': '0', 'mtu': None, 'extra': [], 'ours': {'owner': 'cr123'}}


def test_parse_drifted_foreign_network():
    parsed = parse_network_xml('''<network>
      <name>default</name>
      <forward mode='nat'><nat><port start='1024' end='65535'/></nat></forward>
      <bridge name='virbr0' macTableManager='libvirt'/>
      <mtu size='1400'/>
      <dns enable='no'/>
      <ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip>
      <ip family='ipv6' address='fd00::1' prefix='64'/>
      <dnsmasq:options xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'/>
    </network>''')
    assert parsed['ours'] is None
    assert (parsed['bridge'], parsed['stp'], parsed['delay'], parsed['mtu']) == ('virbr0', 'on', '0', 1400)
    assert parsed['extra'] == ['dns', 'forward', 'ip', 'options', 'bridge macTableManager=libvirt']


DOMAIN = """<domain type='qemu'><name>pc</name><devices>
  <interface type='network'><mac address='52:54:4d:01:01:02'/><source network='cr77-1-office' bridge='kvr77-1-1'/>
    <target dev='vnet3'/></interface>
  <interface type='network'><source network='cr77-1-servers'/><target dev='vnet4'/></interface>
  <interface type='network'><source network='cr77-1-office'/></interface>
  <interface type='bridge'><source bridge='kvr77-1-1'/><target dev='vnet5'/></interface>
</devices></domain>"""


@pytest.mark.parametrize('network, expected', [
    ('cr77-1-office', ['vnet3']),
    ('cr77-1-servers', ['vnet4']),
    ('cr77-2-office', []),
])
def test_guest_ports(network, expected):
    assert guest_ports(DOMAIN, network) == expected


@pytest.mark.parametrize('masters, expected', [
    ({'vnet3': 'kvr77-1-1', 'vnet4': 'kvr77-1-1'}, []),
    ({'vnet3': None, 'vnet4': 'kvr77-1-1'}, [('pc', 'vnet3')]),
    ({'vnet3': 'virbr0', 'vnet4': False}, [('pc', 'vnet3')]),
])
def test_loose_ports_are_those_off_the_bridge_that_exist(masters, expected):
    assert loose_ports([('pc', 'vnet3'), ('fw', 'vnet4')], 'kvr77-1-1', masters.get) == expected


def test_plug_argv():
    expected = ['/usr/sbin/ip', 'link', 'set', 'dev', 'vnet3', 'master', 'kvr77-1-1']
    assert plug_argv('/usr/sbin/ip', 'vnet3', 'kvr77-1-1') == expected
