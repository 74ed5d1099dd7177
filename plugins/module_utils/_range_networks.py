# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Topology networks of a range: one isolated network per instance and CyRIS network, with addresses.

How each number is chosen (CyRIS's own scheme, ``<range>.<instance>.<segment>.<host>``):

* ``range``: the range id, which must then be an integer usable as a first octet (1-223, not 127);
* ``instance``: the instance number, counted across the whole range as in the clone names
  (``<guest>_cr<range>_<instance>_<index>``), so no two hosts share a subnet;
* ``segment``: the network's 1-based position in its block's topology, in file order;
* ``host``: members from ``.2`` in the order ``members`` lists them, each clone of a member guest
  in index order taking the next number; the gateway (``gateway: guest.ethN``) comes after all
  members, as in CyRIS. ``.1`` is left unused: CyRIS gave it to the KVM host's bridge, but here
  the host has no address on range networks, so guests cannot reach it.

With an address prefix (``kvm_auto_range_address_prefix``, an IPv4 /16 such as ``10.20.0.0/16``)
the third octet counts every (instance, network) pair of the range instead, from 1, and the
range id may be any id.

Every member of a network whose topology names a gateway gets that gateway's address as its
default route (the first such network in NIC order, when a guest is in several). A guest that
carries ``forwarding_rules`` (normally the gateway) forwards between its networks: only what a
rule allows (TCP, as CyRIS applies them), and replies to it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import format_identity
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_access import guest_address, slirp_address

# Linux limits interface names to 15 characters.
MAX_BRIDGE_LENGTH = 15
FIRST_HOST = 2
LAST_HOST = 254


def network_name(range_id, instance, name):
    """The libvirt network of CyRIS network ``name`` in one instance of the range."""
    return 'cr%s-%d-%s' % (range_id, instance, name)


def bridge_name(range_id, instance, segment, name):
    """``kvr<range>-<instance>-<segment>``, or ``kvr`` + 12 hex of a digest when that is too long."""
    short = 'kvr%s-%d-%d' % (range_id, instance, segment)
    if len(short) <= MAX_BRIDGE_LENGTH:
        return short
    digest = hashlib.sha256(('%s/%d/%s' % (range_id, instance, name)).encode('utf-8')).hexdigest()
    return 'kvr' + digest[:MAX_BRIDGE_LENGTH - 3]


def mac_of(address):
    """``52:54:`` and the address's four octets in hex: unique wherever the addresses are."""
    return '52:54:' + ':'.join('%02x' % int(octet) for octet in address.split('.'))


def host_name_of(domain):
    """A guest's host name: its domain name, with ``_`` (not allowed in host names) as ``-``."""
    return domain.replace('_', '-').lower()


def check_addressing(range_id, prefix, place):
    """Errors of the address scheme for this range (empty when it can address the range)."""
    if prefix:
        try:
            network = ipaddress.IPv4Network(prefix, strict=True)
        except ValueError:
            return ['kvm_auto_range_address_prefix: %r is not an IPv4 network such as 10.20.0.0/16' % (prefix,)]
        if network.prefixlen != 16:
            return ['kvm_auto_range_address_prefix: %r is not a /16 (the third octet numbers the networks, '
                    'the fourth the guests)' % (prefix,)]
        return []
    if not ('%s' % range_id).isdigit() or not 1 <= int(range_id) <= 223 or int(range_id) == 127:
        return ['%s: %s cannot be the first octet of the guests\' addresses (CyRIS addresses are '
                '<range_id>.<instance>.<network>.<host>: an integer 1-223, not 127); use another range id, or '
                'set kvm_auto_range_address_prefix (such as 10.20.0.0/16) for private addresses' % (place, range_id)]
    return []


class _Subnets:
    """The /24 of each (instance, segment) pair, in the order the range meets them."""

    def __init__(self, range_id, prefix):
        self.range_id = range_id
        self.prefix = ipaddress.IPv4Network(prefix) if prefix else None
        self.count = 0

    def next(self, instance, segment):
        """(subnet text or None, error or None)."""
        self.count += 1
        if self.prefix is not None:
            third = self.count
            base = str(self.prefix.network_address).split('.')[:2]
            if third > 255:
                return None, 'the range has more than 255 networks, all numbered in %s' % self.prefix
            return '%s.%s.%d.0/24' % (base[0], base[1], third), None
        if instance > 255 or segment > 255:
            return None, 'instance %d, network %d cannot be octets of an address (at most 255)' % (instance, segment)
        return '%s.%d.%d.0/24' % (self.range_id, instance, segment), None


def plan_networks(range_id, blocks, vms, prefix=None, range_place='clone_settings[0].range_id'):
    """The networks of the range and each guest's NICs and identity.

    ``blocks``: the clone_settings host blocks (each with ``networks`` from validation, and the
    clones' parsed ``rules``); ``vms``: the placed domains (each with ``block``, ``instance``,
    ``index``, ``guest``). Adds ``nics``, ``gateway``, ``forwarding``, ``accept`` and
    ``identity`` to every vm, and returns (networks, errors).
    """
    errors = []
    if any(b.get('networks') for b in blocks):
        errors = check_addressing(range_id, prefix, range_place)
        if errors:
            return [], errors
    subnets = _Subnets(range_id, prefix)
    networks = []
    by_instance = {}
    for vm in vms:
        vm.update(nics=[], gateway=None, forwarding=False, accept=[])
        by_instance.setdefault(vm.get('instance'), []).append(vm)
    for instance in sorted(i for i in by_instance if i is not None):
        members = by_instance[instance]
        block = blocks[members[0]['block']]
        instance_networks = []
        for net in block.get('networks') or ():
            subnet, error = subnets.next(instance, net['segment'])
            if error:
                errors.append('%s: %s' % (net['place'], error))
                continue
            entry = _network_entry(range_id, instance, net, subnet, members, errors)
            instance_networks.append(entry)
        _gateways_and_rules(block, members, instance_networks, errors)
        networks.extend(_public(n) for n in instance_networks)
    for vm in vms:
        vm['nics'].sort(key=_nic_order)
        vm['identity'] = identity_text(vm)
    return networks, errors


def _nic_order(nic):
    return int(nic['label'][len('eth'):])


def _network_entry(range_id, instance, net, subnet, members, errors):
    network = ipaddress.IPv4Network(subnet)
    entry = {
        'name': network_name(range_id, instance, net['name']),
        'bridge': bridge_name(range_id, instance, net['segment'], net['name']),
        'network': net['name'],
        'instance': instance,
        'segment': net['segment'],
        'subnet': subnet,
        'gateway': None,
        'gateway_domain': None,
        'gateway_guest': net['gateway'][0] if net['gateway'] else None,
        'host': members[0]['host'],
        'addresses': {},
        'member_addresses': [],
    }
    number = FIRST_HOST
    nodes = [(g, nic, False) for g, nic in net['members']] + ([net['gateway'] + (True,)] if net['gateway'] else [])
    for guest, nic, is_gateway in nodes:
        for vm in sorted((v for v in members if v['guest'] == guest), key=lambda v: v['index']):
            if number > LAST_HOST:
                errors.append('%s: more than %d guests in network %s' % (net['place'], LAST_HOST - FIRST_HOST + 1, net['name']))
                return entry
            address = str(network.network_address + number)
            number += 1
            vm['nics'].append({'label': 'eth%d' % nic, 'network': entry['name'], 'cyris_network': net['name'],
                               'address': address, 'prefix': network.prefixlen, 'mac': mac_of(address)})
            entry['addresses'].setdefault(vm['guest'], []).append(address)
            if is_gateway and entry['gateway'] is None:
                entry['gateway'], entry['gateway_domain'] = address, vm['name']
            elif not is_gateway:
                entry['member_addresses'].append(address)
    return entry


def _gateways_and_rules(block, members, instance_networks, errors):
    by_name = dict((n['network'], n) for n in instance_networks)
    for vm in members:
        for nic in sorted(vm['nics'], key=_nic_order):
            network = by_name.get(nic['cyris_network'])
            if network and network['gateway'] and network['gateway_guest'] != vm['guest'] and vm['gateway'] is None:
                vm['gateway'] = network['gateway']
        clone = next(c for c in block['guests'] if c['guest_id'] == vm['guest'])
        is_gateway = any(n['gateway_domain'] == vm['name'] for n in instance_networks)
        vm['forwarding'] = bool(clone['rules']) or is_gateway
        for rule in clone['rules']:
            vm['accept'].append({
                'src': _rule_addresses(rule['src'], by_name),
                'dst': _rule_addresses(rule['dst'], by_name),
                'sport': rule['sport'],
                'dport': rule['dport'],
            })


def _rule_addresses(targets, by_name):
    """``net`` is every member (not the gateway) of that network; ``net.guest`` that guest's clones there."""
    addresses = []
    for name, guest in targets:
        network = by_name.get(name)
        if network is None:
            continue
        found = network['member_addresses'] if guest is None else network['addresses'].get(guest, [])
        addresses.extend(a for a in found if a not in addresses)
    return addresses


def _public(network):
    return dict((k, v) for k, v in network.items() if k not in ('addresses', 'member_addresses'))


def identity_text(vm):
    """What the guest applies on every boot (see _guest_identity): host name, addresses, route, rules.

    An entry point's access NIC (see _range_entry) comes last, after its topology NICs.
    """
    addresses = [{'mac': nic['mac'], 'address': '%s/%d' % (nic['address'], nic['prefix'])} for nic in vm['nics']]
    reply_via = None
    if vm.get('access'):
        # Trainees connect from anywhere: their replies go back through QEMU, not the default route.
        addresses.append({'mac': vm['access']['mac'], 'address': guest_address(vm['access']['subnet'])})
        reply_via = {'mac': vm['access']['mac'], 'gateway': slirp_address(vm['access']['subnet'])}
    return format_identity(
        host_name_of(vm['name']), addresses, reply_via=reply_via,
        gateway=vm['gateway'], forwarding=vm['forwarding'],
        accepts=[{'sources': rule['src'], 'destinations': rule['dst'], 'source_ports': rule['sport'],
                  'destination_ports': rule['dport']} for rule in vm['accept'] if rule['src'] and rule['dst']])


def route_conflicts(networks, routes_by_host):
    """Errors for planned subnets that overlap a route or address already on their KVM host.

    ``routes_by_host``: inventory host -> the JSON list of ``ip -j -4 route show table all``.
    The default route is left out: every subnet is inside it.
    """
    errors = []
    for host, routes in sorted((routes_by_host or {}).items()):
        existing = []
        for route in routes or ():
            dst = route.get('dst')
            if not dst or dst == 'default':
                continue
            try:
                existing.append((ipaddress.IPv4Network(dst, strict=False), route))
            except ValueError:
                continue
        for network in networks:
            if network.get('inventory_host') != host:
                continue
            subnet = ipaddress.IPv4Network(network['subnet'])
            for other, route in existing:
                if subnet.overlaps(other):
                    errors.append('host %s: network %s of instance %d (%s) overlaps %s%s already on this host: '
                                  'use another range id, or kvm_auto_range_address_prefix' % (
                                      host, network['network'], network['instance'], network['subnet'], route['dst'],
                                      ' (dev %s)' % route['dev'] if route.get('dev') else ''))
                    break
    return errors
