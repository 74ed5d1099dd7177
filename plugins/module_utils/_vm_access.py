# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The trainee access NIC of a guest: QEMU user networking with one host port forwarded to the guest.

libvirt has no XML for slirp host forwarding, so the NIC is a pair of QEMU arguments in
``<qemu:commandline>``: ``-netdev user,restrict=on,...,hostfwd=...`` (the guest reaches nothing
through it) and ``-device virtio-net-pci`` at an explicit PCI slot of the root bus.  libvirt does
not know that device, so it must be given a slot that no libvirt device uses (else QEMU refuses
to start).  Every function is pure: XML text or data in, data or XML text out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re
import xml.etree.ElementTree as ET

QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0'
ACCESS_NETDEV_ID = 'kvmautoaccess'
DEFAULT_SUBNET = '100.127.255.0/24'
DEFAULT_LISTEN = '0.0.0.0'
DEFAULT_GUEST_PORT = 22
# slirp's host side is the network's .2 and its first DHCP address .15; the guest takes .15.
GUEST_HOST_NUMBER = 15
# QEMU user networking's own side of the link (its default host address): where replies go.
SLIRP_HOST_NUMBER = 2
# .15 must be a host address of the network: a /28 has it as broadcast.
MIN_PREFIX, MAX_PREFIX = 8, 27
# Slot 0 is the host bridge; on q35 the ICH9 functions sit at 0x1f.
FIRST_SLOT, LAST_SLOT = 0x01, 0x1e
ACCESS_FIELDS = ('port', 'listen', 'guest_port', 'mac', 'subnet')

_MAC_RE = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
_NETDEV_RE = re.compile(
    r'^user,id=%s,restrict=on,net=(?P<subnet>[0-9./]+),'
    r'hostfwd=tcp:(?P<listen>[0-9.]+):(?P<port>[0-9]+)-(?P<guest>[0-9.]+):(?P<guest_port>[0-9]+)$' % ACCESS_NETDEV_ID)
_DEVICE_RE = re.compile(
    r'^virtio-net-pci,netdev=%s,mac=(?P<mac>[0-9a-f:]+),bus=(?P<bus>[a-z]+\.0),addr=(?P<slot>0x[0-9a-f]+)$' % ACCESS_NETDEV_ID)

ET.register_namespace('qemu', QEMU_NS)


class AccessError(ValueError):
    """An access setting that cannot be used; the message names the field."""


def _subnet(text):
    try:
        network = ipaddress.IPv4Network(u'%s' % text, strict=True)
    except ValueError as exc:
        raise AccessError('access.subnet %r is not an IPv4 network such as %s: %s' % (text, DEFAULT_SUBNET, exc))
    if not MIN_PREFIX <= network.prefixlen <= MAX_PREFIX:
        raise AccessError('access.subnet %r must have a prefix of %d to %d (the guest takes its .%d address)' % (
            text, MIN_PREFIX, MAX_PREFIX, GUEST_HOST_NUMBER))
    return network


def guest_address(subnet=DEFAULT_SUBNET):
    """The address the guest carries on its access NIC, with the prefix: ``'100.127.255.15/24'``."""
    network = _subnet(subnet)
    return '%s/%d' % (network.network_address + GUEST_HOST_NUMBER, network.prefixlen)


def slirp_address(subnet=DEFAULT_SUBNET):
    """QEMU's side of the access link: the guest answers trainees through it (``'100.127.255.2'``)."""
    return '%s' % (_subnet(subnet).network_address + SLIRP_HOST_NUMBER)


def normalize_access(access):
    """The access asked for as {port, listen, guest_port, mac, subnet}; None when not asked.

    Raises AccessError naming the field and value at fault.
    """
    if access is None:
        return None
    ports = {'port': access.get('port'), 'guest_port': access.get('guest_port') or DEFAULT_GUEST_PORT}
    for field in ('port', 'guest_port'):
        if ports[field] is None or not 1 <= ports[field] <= 65535:
            raise AccessError('access.%s %r is not a TCP port (1-65535)' % (field, ports[field]))
    listen = access.get('listen') or DEFAULT_LISTEN
    try:
        ipaddress.IPv4Address(u'%s' % listen)
    except ValueError:
        raise AccessError('access.listen %r is not an IPv4 address' % (listen,))
    mac = (access.get('mac') or '').strip().lower()
    if not _MAC_RE.match(mac):
        raise AccessError('access.mac %r is not a MAC address such as 52:54:00:12:34:56' % (access.get('mac'),))
    return {
        'port': ports['port'],
        'listen': listen,
        'guest_port': ports['guest_port'],
        'mac': mac,
        'subnet': str(_subnet(access.get('subnet') or DEFAULT_SUBNET)),
    }


def access_args(access, bus, slot):
    """The QEMU arguments of the access NIC at PCI ``slot`` (an int) of root ``bus``."""
    guest = guest_address(access['subnet']).split('/')[0]
    return [
        '-netdev', 'user,id=%s,restrict=on,net=%s,hostfwd=tcp:%s:%d-%s:%d' % (
            ACCESS_NETDEV_ID, access['subnet'], access['listen'], access['port'], guest, access['guest_port']),
        '-device', 'virtio-net-pci,netdev=%s,mac=%s,bus=%s,addr=0x%02x' % (ACCESS_NETDEV_ID, access['mac'], bus, slot),
    ]


def _commandline(root):
    return root.find('{%s}commandline' % QEMU_NS)


def _arg_values(root):
    commandline = _commandline(root)
    return [a.get('value') for a in commandline.findall('{%s}arg' % QEMU_NS)] if commandline is not None else []


def _access_pairs(values):
    """Indexes of the (option, value) pairs of our NIC among the qemu:commandline values."""
    ours = []
    for index in range(len(values) - 1):
        option, value = values[index], values[index + 1] or ''
        if option == '-netdev' and value.startswith('user,id=%s,' % ACCESS_NETDEV_ID):
            ours += [index, index + 1]
        elif option == '-device' and ('netdev=%s,' % ACCESS_NETDEV_ID) in value:
            ours += [index, index + 1]
    return ours


def domain_access(xml):
    """The access of a domain definition (XML text): {port, listen, guest_port, mac, subnet, bus, slot};
    None when it has none or only part of it."""
    values = _arg_values(ET.fromstring(xml))
    netdev = device = None
    for index in range(len(values) - 1):
        if values[index] == '-netdev':
            netdev = netdev or _NETDEV_RE.match(values[index + 1] or '')
        elif values[index] == '-device':
            device = device or _DEVICE_RE.match(values[index + 1] or '')
    if netdev is None or device is None:
        return None
    return {
        'port': int(netdev.group('port')),
        'listen': netdev.group('listen'),
        'guest_port': int(netdev.group('guest_port')),
        'mac': device.group('mac'),
        'subnet': netdev.group('subnet'),
        'bus': device.group('bus'),
        'slot': int(device.group('slot'), 16),
    }


def access_view(access):
    """The compared part of an access (no PCI placement); None stays None."""
    return dict((k, access[k]) for k in ACCESS_FIELDS) if access else None


def set_access(xml, access, bus, slot):
    """``xml`` (domain XML text) carrying the access NIC; other qemu:commandline arguments are kept."""
    root = ET.fromstring(xml)
    commandline = _commandline(root)
    if commandline is None:
        commandline = ET.SubElement(root, '{%s}commandline' % QEMU_NS)
    args = commandline.findall('{%s}arg' % QEMU_NS)
    drop = set(_access_pairs([a.get('value') for a in args]))
    for index, element in enumerate(args):
        if index in drop:
            commandline.remove(element)
    for value in access_args(access, bus, slot):
        ET.SubElement(commandline, '{%s}arg' % QEMU_NS, {'value': value})
    return ET.tostring(root, encoding='unicode')


def root_bus(xml):
    """QEMU's name of the domain's root PCI bus: ``pcie.0`` (q35) or ``pci.0`` (pc)."""
    root = ET.fromstring(xml)
    for controller in root.findall('devices/controller'):
        if controller.get('type') == 'pci' and controller.get('index', '0') == '0':
            if controller.get('model') == 'pcie-root':
                return 'pcie.0'
            if controller.get('model') == 'pci-root':
                return 'pci.0'
    machine = root.find('os/type')
    machine = machine.get('machine') or '' if machine is not None else ''
    return 'pcie.0' if 'q35' in machine else 'pci.0'


def used_root_slots(xml):
    """Slots of the root bus (bus 0x00) that the devices of the definition hold."""
    used = set()
    for address in ET.fromstring(xml).iter('address'):
        if address.get('type') == 'pci' and int(address.get('bus', '0x00'), 16) == 0 \
                and int(address.get('domain', '0x0000'), 16) == 0 and address.get('slot'):
            used.add(int(address.get('slot'), 16))
    return used


def choose_slot(xml, keep=None):
    """The root-bus slot for the access NIC: ``keep`` (its slot so far) while it is free, else the
    highest free one below 0x1f.  Raises AccessError when the root bus is full."""
    used = used_root_slots(xml)
    if keep is not None and FIRST_SLOT <= keep <= LAST_SLOT and keep not in used:
        return keep
    for slot in range(LAST_SLOT, FIRST_SLOT - 1, -1):
        if slot not in used:
            return slot
    raise AccessError('access: no free PCI slot on the root bus for the access NIC (slots 0x%02x-0x%02x are all used)' % (
        FIRST_SLOT, LAST_SLOT))


def placed(xml, access, keep=None):
    """``xml`` with ``access`` at the root bus and slot that this definition leaves free."""
    return set_access(xml, access, root_bus(xml), choose_slot(xml, keep))


def placement_ok(defined_xml, access):
    """Whether libvirt's ``defined_xml`` holds ``access`` unchanged, on its root bus, at a slot no
    libvirt device took."""
    found = domain_access(defined_xml)
    return (found is not None and access_view(found) == access_view(access)
            and found['bus'] == root_bus(defined_xml) and found['slot'] not in used_root_slots(defined_xml))
