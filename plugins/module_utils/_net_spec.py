# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The network kvm_auto_network is asked for, its libvirt XML, and a defined network read back.

All functions are pure.  A topology network is an isolated L2 bridge: no <forward>, no <ip>,
no <dns>, so the host has no address on it and routes nothing (libvirt also sets
disable_ipv6=1 on the bridge of such a network).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import xml.etree.ElementTree as ET

from ansible_collections.cyris.kvm_auto.plugins.module_utils._libvirt_common import (
    find_ours, metadata_element, put_metadata)

KIND = 'network'
# IFNAMSIZ is 16 with the terminating NUL.
BRIDGE_MAX = 15
STP, DELAY = 'off', '0'
MTU_MIN, MTU_MAX = 68, 65535
# Linux refuses '/', ':' and white space in interface names (dev_valid_name); libvirt reads a
# '%' as a template to number (virbr%d), which would not give the name asked for.
_BRIDGE_FORBIDDEN = re.compile(r'[/:%\s]')
# Children of a definition that the module writes or that libvirt adds; any other is drift.
_MANAGED = ('name', 'uuid', 'metadata', 'bridge', 'mac', 'mtu')


class NetError(Exception):
    """An expected failure; its message is shown to the user after the network name."""


def check_bridge(bridge):
    """Raise NetError unless ``bridge`` is a usable Linux bridge name for libvirt."""
    if not bridge:
        raise NetError('bridge: required with state=present')
    if len(bridge) > BRIDGE_MAX:
        raise NetError('bridge: %r is longer than %d characters' % (bridge, BRIDGE_MAX))
    if bridge in ('.', '..') or _BRIDGE_FORBIDDEN.search(bridge):
        raise NetError("bridge: %r is not a Linux interface name (no '/', ':', '%%', white space; not . or ..)" % bridge)


def desired_network(params):
    """The network asked for, from the module parameters; NetError for a bad value.

    With state=absent only the name and (when given) the owner matter.
    """
    owner = params.get('owner')
    if owner is not None and not owner.strip():
        raise NetError('owner: must not be empty')
    if params['state'] == 'absent':
        return {'name': params['name'], 'owner': owner}
    if owner is None:
        raise NetError('owner: required with state=present')
    check_bridge(params.get('bridge'))
    mtu = params.get('mtu')
    if mtu is not None and not MTU_MIN <= mtu <= MTU_MAX:
        raise NetError('mtu: %d is not between %d and %d' % (mtu, MTU_MIN, MTU_MAX))
    return {'name': params['name'], 'owner': owner, 'bridge': params['bridge'], 'stp': STP, 'delay': DELAY,
            'mtu': mtu, 'extra': []}


def network_xml(desired, uuid=None, mac=None):
    """libvirt XML of the ``desired`` network; ``uuid`` and ``mac`` keep those of a defined one."""
    root = ET.Element('network')
    ET.SubElement(root, 'name').text = desired['name']
    if uuid:
        ET.SubElement(root, 'uuid').text = uuid
    put_metadata(root, KIND, metadata_element(KIND, {'owner': desired['owner']}))
    ET.SubElement(root, 'bridge', {'name': desired['bridge'], 'stp': desired['stp'], 'delay': desired['delay']})
    if mac:
        ET.SubElement(root, 'mac', {'address': mac})
    if desired['mtu'] is not None:
        ET.SubElement(root, 'mtu', {'size': str(desired['mtu'])})
    return ET.tostring(root, encoding='unicode')


def _local_name(tag):
    return tag.rsplit('}', 1)[-1]


def parse_network_xml(xml):
    """The parts of a network definition the module manages, as plain data.

    ``extra`` lists what a topology network must not have: other elements (forward, ip, dns...)
    and other attributes of <bridge>.  ``ours`` is None for a network we did not make, else
    {'owner': ...}.
    """
    root = ET.fromstring(xml)
    bridge = root.find('bridge')
    bridge = dict(bridge.attrib) if bridge is not None else {}
    mac = root.find('mac')
    mtu = root.find('mtu')
    ours = find_ours(root, KIND)
    extra = sorted(set(_local_name(child.tag) for child in root if child.tag not in _MANAGED))
    extra += sorted('bridge %s=%s' % (key, value) for key, value in bridge.items() if key not in ('name', 'stp', 'delay'))
    return {
        'name': root.findtext('name'),
        'uuid': root.findtext('uuid'),
        'mac': mac.get('address') if mac is not None else None,
        'bridge': bridge.get('name'),
        # libvirt's defaults when the attributes are missing
        'stp': bridge.get('stp', 'on'),
        'delay': bridge.get('delay', '0'),
        'mtu': int(mtu.get('size')) if mtu is not None and mtu.get('size') else None,
        'extra': extra,
        'ours': None if ours is None else {'owner': ours.get('owner')},
    }


def guest_ports(domain_xml, network):
    """The host-side devices (``vnetN``) of a running domain's NICs on libvirt network ``network``."""
    root = ET.fromstring(domain_xml)
    ports = []
    for iface in root.findall('./devices/interface'):
        source = iface.find('source')
        target = iface.find('target')
        if iface.get('type') == 'network' and source is not None and source.get('network') == network \
                and target is not None and target.get('dev'):
            ports.append(target.get('dev'))
    return ports


def loose_ports(ports, bridge, master_of):
    """The ports that exist on this host but are not on ``bridge``: what a restart of the network left unplugged.

    ``ports``: [(domain, device)]; ``master_of(device)``: the bridge the device is on, None when on
    none, or False when the device does not exist (a guest of another driver, or gone).
    """
    return [(domain, device) for domain, device in ports if master_of(device) not in (False, bridge)]


def plug_argv(ip, device, bridge):
    """Put a guest's host-side device back on its network's bridge, as libvirt does when it starts the guest."""
    return [ip, 'link', 'set', 'dev', device, 'master', bridge]
