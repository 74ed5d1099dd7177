# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_access import (
    QEMU_NS, AccessError, access_args, access_view, choose_slot, domain_access, guest_address, normalize_access,
    placed, placement_ok, root_bus, set_access, used_root_slots)

# Trimmed from libvirt 9.0's definitions of virt-install guests (machine pc and q35).
PC = '''<domain type='qemu'>
  <name>g</name>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/d/g.qcow2'/><target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/></disk>
    <controller type='usb' index='0' model='piix3-uhci'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/></controller>
    <controller type='pci' index='0' model='pci-root'/>
    <controller type='ide' index='0'><address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x1'/></controller>
    <interface type='network'><mac address='52:54:00:00:00:01'/><source network='office'/><model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></interface>
    <serial type='pty'><target type='isa-serial' port='0'/></serial>
    <video><model type='cirrus'/><address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></video>
    <memballoon model='virtio'><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></memballoon>
  </devices>
</domain>'''

Q35 = '''<domain type='qemu'>
  <name>g</name>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/d/g.qcow2'/><target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></disk>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='1' model='pcie-root-port'><target chassis='1' port='0x10'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0' multifunction='on'/></controller>
    <controller type='pci' index='2' model='pcie-root-port'><target chassis='2' port='0x11'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x1'/></controller>
    <controller type='sata' index='0'><address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/></controller>
    <interface type='network'><mac address='52:54:00:00:00:01'/><source network='office'/><model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></interface>
    <video><model type='vga'/><address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></video>
  </devices>
</domain>'''

# virt-install's rendering, before libvirt adds controllers and addresses
RENDERED = '''<domain type='qemu'><name>g</name><os><type arch='x86_64' machine='%s'>hvm</type></os><devices/></domain>'''

ACCESS = {'port': 60001, 'listen': '0.0.0.0', 'guest_port': 22, 'mac': '52:54:00:ac:00:01', 'subnet': '100.127.255.0/24'}


@pytest.mark.parametrize('subnet, expected', [
    ('100.127.255.0/24', '100.127.255.15/24'),
    ('10.0.0.0/8', '10.0.0.15/8'),
    ('192.168.7.32/27', '192.168.7.47/27'),
])
def test_guest_address(subnet, expected):
    assert guest_address(subnet) == expected


@pytest.mark.parametrize('subnet', ['100.127.255.0/28', '100.127.255.0/29', '10.0.0.0/7', '100.127.255.1/24',
                                    'fd00::/64', 'office'])
def test_guest_address_refuses(subnet):
    with pytest.raises(AccessError) as err:
        guest_address(subnet)
    assert str(err.value).startswith('access.subnet %r' % subnet)


@pytest.mark.parametrize('access, bus, slot, expected', [
    (ACCESS, 'pci.0', 0x1e,
     ['-netdev', 'user,id=kvmautoaccess,restrict=on,net=100.127.255.0/24,hostfwd=tcp:0.0.0.0:60001-100.127.255.15:22',
      '-device', 'virtio-net-pci,netdev=kvmautoaccess,mac=52:54:00:ac:00:01,bus=pci.0,addr=0x1e']),
    (dict(ACCESS, listen='192.0.2.10', guest_port=2222, subnet='10.9.0.0/16', port=65000), 'pcie.0', 0x1d,
     ['-netdev', 'user,id=kvmautoaccess,restrict=on,net=10.9.0.0/16,hostfwd=tcp:192.0.2.10:65000-10.9.0.15:2222',
      '-device', 'virtio-net-pci,netdev=kvmautoaccess,mac=52:54:00:ac:00:01,bus=pcie.0,addr=0x1d']),
])
def test_access_args(access, bus, slot, expected):
    assert access_args(access, bus, slot) == expected


@pytest.mark.parametrize('given, expected', [
    (None, None),
    ({'port': 60001, 'listen': None, 'guest_port': None, 'mac': '52:54:00:AC:00:01 ', 'subnet': None}, ACCESS),
    (dict(ACCESS, subnet='10.0.0.0/8', listen='192.0.2.1'), dict(ACCESS, subnet='10.0.0.0/8', listen='192.0.2.1')),
])
def test_normalize_access(given, expected):
    assert normalize_access(given) == expected


@pytest.mark.parametrize('change, field', [
    (dict(port=0), 'access.port'),
    (dict(port=65536), 'access.port'),
    (dict(guest_port=70000), 'access.guest_port'),
    (dict(listen='0.0.0.0,hostfwd=tcp::1-:2'), 'access.listen'),
    (dict(listen='::'), 'access.listen'),
    (dict(mac='52:54:00:ac:00'), 'access.mac'),
    (dict(mac='52:54:00:ac:00:01,bus=pci.0'), 'access.mac'),
    (dict(subnet='100.127.255.0/30'), 'access.subnet'),
])
def test_normalize_access_refuses(change, field):
    with pytest.raises(AccessError) as err:
        normalize_access(dict(ACCESS, **change))
    assert str(err.value).startswith(field + ' ')


@pytest.mark.parametrize('xml, bus, used, slot', [
    (PC, 'pci.0', {0x01, 0x02, 0x03, 0x04, 0x05}, 0x1e),
    (Q35, 'pcie.0', {0x01, 0x02, 0x1f}, 0x1e),
    (RENDERED % 'q35', 'pcie.0', set(), 0x1e),
    (RENDERED % 'pc', 'pci.0', set(), 0x1e),
])
def test_root_bus_and_slot(xml, bus, used, slot):
    assert root_bus(xml) == bus
    assert used_root_slots(xml) == used
    assert choose_slot(xml) == slot


def _with_slots(xml, slots):
    root = ET.fromstring(xml)
    devices = root.find('devices')
    for slot in slots:
        ET.SubElement(ET.SubElement(devices, 'rng', {'model': 'virtio'}), 'address', {
            'type': 'pci', 'domain': '0x0000', 'bus': '0x00', 'slot': '0x%02x' % slot, 'function': '0x0'})
    return ET.tostring(root, encoding='unicode')


@pytest.mark.parametrize('slots, keep, expected', [
    ([0x1e], None, 0x1d),
    ([0x1e, 0x1d], 0x10, 0x10),
    # the slot so far is kept while free, even when a higher one is free again
    ([], 0x1c, 0x1c),
    # taken by libvirt meanwhile: the highest free one
    ([0x1c], 0x1c, 0x1e),
    # never 0x1f, nor 0x00
    ([], 0x1f, 0x1e),
])
def test_choose_slot(slots, keep, expected):
    assert choose_slot(_with_slots(PC, slots), keep) == expected


def test_choose_slot_on_a_full_root_bus():
    with pytest.raises(AccessError) as err:
        choose_slot(_with_slots(PC, range(0x06, 0x1f)))
    assert 'no free PCI slot' in str(err.value)


def test_set_access_round_trip_keeps_other_arguments():
    other = PC.replace('</domain>', '<qemu:commandline xmlns:qemu="%s"><qemu:arg value="-no-hpet"/></qemu:commandline></domain>'
                       % QEMU_NS)
    xml = set_access(other, ACCESS, 'pci.0', 0x1e)
    assert domain_access(xml) == dict(ACCESS, bus='pci.0', slot=0x1e)
    moved = set_access(xml, dict(ACCESS, port=60002), 'pci.0', 0x1d)
    assert domain_access(moved) == dict(ACCESS, port=60002, bus='pci.0', slot=0x1d)
    values = [a.get('value') for a in ET.fromstring(moved).iter('{%s}arg' % QEMU_NS)]
    assert values[0] == '-no-hpet' and len(values) == 5
    assert domain_access(other) is None and domain_access(PC) is None


def test_domain_access_needs_both_arguments():
    xml = set_access(PC, ACCESS, 'pci.0', 0x1e)
    root = ET.fromstring(xml)
    commandline = root.find('{%s}commandline' % QEMU_NS)
    for arg in commandline.findall('{%s}arg' % QEMU_NS)[2:]:
        commandline.remove(arg)
    assert domain_access(ET.tostring(root, encoding='unicode')) is None


@pytest.mark.parametrize('defined, ok', [
    (placed(PC, ACCESS), True),
    (placed(Q35, ACCESS), True),
    # libvirt gave our slot to a device of its own
    (_with_slots(placed(PC, ACCESS), [0x1e]), False),
    # libvirt dropped the commandline, or the bus is not the root bus of the machine
    (PC, False),
    (set_access(Q35, ACCESS, 'pci.0', 0x1e), False),
    (placed(PC, dict(ACCESS, port=60002)), False),
])
def test_placement_ok(defined, ok):
    assert placement_ok(defined, ACCESS) is ok


def test_access_view():
    assert access_view(dict(ACCESS, bus='pci.0', slot=30)) == ACCESS
    assert access_view(None) is None
