# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Validation of the clone_settings section: range id, host blocks, clones, topology, forwarding rules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import is_ports
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import TEXT_TYPES as _TEXT_TYPES, show

INSTANCE_RANGE = (1, 100)
# Numeric range ids short enough for domain and file names.
RANGE_ID_NUMBERS = (1, 99999999)
CLONE_NUMBER_RANGE = (1, 100)

CLONE_KEYS = ('range_id', 'hosts')
CLONE_HOST_KEYS = ('host_id', 'instance_number', 'guests', 'topology')
CLONE_GUEST_KEYS = ('guest_id', 'number', 'entry_point', 'forwarding_rules')

_GUEST_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$')
_RANGE_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9-]{0,15}$')
_DIGITS_RE = re.compile(r'^[0-9]+$')
_MEMBER_RE = re.compile(r'^([A-Za-z0-9][A-Za-z0-9_-]*)\.eth([0-9]+)$')
_RULE_KEYS = ('src', 'dst', 'sport', 'dport')
# Rule values will reach iptables as words: names start with a letter or digit, ports are numbers.
_RULE_NAMES_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)?(,[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)?)*$')


def _rule_targets(place, key, text, networks, chk):
    """``src``/``dst`` of a rule as [(network, guest or None)], checked against the block's topology."""
    targets = []
    for token in text.split(','):
        name, _sep, guest = token.partition('.')
        network = networks.get(name)
        if network is None:
            chk.error(place, 'network %s is not in this block\'s topology (known: %s)' % (
                show(name), ', '.join(sorted(networks)) or 'none'))
            continue
        if guest and guest not in [m[0] for m in network['members']]:
            chk.error(place, '%s %s: guest %s is not a member of network %s' % (key, show(token), show(guest), show(name)))
            continue
        targets.append((name, guest or None))
    return targets


def _check_rule(place, value, networks, chk):
    """A forwarding rule as {src, dst, sport, dport}; None after recording an error."""
    text = chk.text(place, value)
    if text is None:
        return None
    fields = {}
    for token in text.split():
        key, sep, val = token.partition('=')
        if not sep or key not in _RULE_KEYS or not val or key in fields:
            chk.error(place, '%s is not a rule such as "src=office dst=servers.web dport=80"' % show(text))
            return None
        fields[key] = val
    for key in ('sport', 'dport'):
        if key in fields and not is_ports(fields[key]):
            chk.error(place, '%s %s is not a port, a range such as 1000:2000 or a comma list of them (at most 15 ports, '
                             'a range counting as two)' % (key, show(fields[key])))
            return None
    for key in ('src', 'dst'):
        if key in fields and not _RULE_NAMES_RE.match(fields[key]):
            chk.error(place, '%s %s is not a network, network.guest or a comma list of them' % (key, show(fields[key])))
            return None
    if 'src' not in fields or 'dst' not in fields:
        chk.error(place, '%s needs src= and dst=' % show(text))
        return None
    before = len(chk.errors)
    rule = {'src': _rule_targets(place, 'src', fields['src'], networks, chk),
            'dst': _rule_targets(place, 'dst', fields['dst'], networks, chk),
            'sport': fields.get('sport'), 'dport': fields.get('dport'), 'text': text}
    return rule if len(chk.errors) == before else None


def _member(place, text, guest_ids, chk):
    """``guest.ethN`` as (guest, N); None after recording an error."""
    match = _MEMBER_RE.match(text)
    if not match:
        chk.error(place, '%s is not a member such as desktop.eth0' % show(text))
        return None
    if match.group(1) not in guest_ids:
        chk.error(place, 'member %s names a guest that is not in this block\'s guests (known: %s)' % (
            show(text), ', '.join(sorted(guest_ids)) or 'none'))
        return None
    return match.group(1), int(match.group(2))


def _check_topology(place, raw, guest_ids, chk):
    """The block's networks by name: {name: {name, segment, members: [(guest, nic)], gateway, place}}.

    None when there is no usable topology. ``segment`` is the network's 1-based position, as in
    CyRIS; ``members`` keep their order, the gateway (guest, nic) or None comes apart.
    """
    items = chk.sequence(place, raw)
    if items is None:
        return None
    if len(items) > 1:
        chk.error(place, 'holds %d topologies; CyRIS reads only the first: merge their networks into one' % len(items))
    networks = {}
    labels = {}
    for pos, topo in enumerate(items[:1]):
        tplace = '%s[%d]' % (place, pos)
        if chk.mapping(tplace, topo) is None:
            continue
        chk.unknown_keys(tplace, topo, ('type', 'networks'))
        if chk.required(tplace, topo, 'type'):
            chk.choice(tplace + '.type', topo['type'], ('custom',))
        if not chk.required(tplace, topo, 'networks'):
            continue
        for npos, net in enumerate(chk.sequence(tplace + '.networks', topo['networks']) or ()):
            nplace = '%s.networks[%d]' % (tplace, npos)
            if chk.mapping(nplace, net) is None:
                continue
            chk.unknown_keys(nplace, net, ('name', 'members', 'gateway'))
            name = None
            if chk.required(nplace, net, 'name'):
                name = chk.text(nplace + '.name', net['name'], _GUEST_ID_RE, 'a network name (letters, digits, _ -)')
                if name in networks:
                    chk.error(nplace + '.name', '%s appears twice' % show(name))
                    name = None
            entry = {'name': name, 'segment': npos + 1, 'members': [], 'gateway': None, 'place': nplace}
            if chk.required(nplace, net, 'members'):
                text = chk.text(nplace + '.members', net['members']) or ''
                for item in [m.strip() for m in text.split(',') if m.strip()]:
                    member = _member(nplace + '.members', item, guest_ids, chk)
                    if member in entry['members']:
                        chk.error(nplace + '.members', '%s is listed twice' % show(item))
                    elif member:
                        entry['members'].append(member)
            if net.get('gateway') is not None:
                text = chk.text(nplace + '.gateway', net['gateway'])
                gateway = _member(nplace + '.gateway', text, guest_ids, chk) if text is not None else None
                if gateway in entry['members']:
                    chk.error(nplace + '.gateway', '%s is also listed in members: the gateway is a member '
                                                   'of its network already' % show(text))
                elif gateway:
                    entry['gateway'] = gateway
            for guest, nic in entry['members'] + ([entry['gateway']] if entry['gateway'] else []):
                if (guest, nic) in labels:
                    chk.error(nplace, '%s.eth%d is already in network %s: a NIC joins one network' % (
                        guest, nic, labels[(guest, nic)]))
                labels[(guest, nic)] = name
            if name:
                networks[name] = entry
    for guest in sorted(set(g for g, _nic in labels)):
        used = sorted(nic for g, nic in labels if g == guest)
        if used != list(range(len(used))):
            chk.error(place, 'guest %s has NICs %s: NIC labels run from eth0 without gaps (the k-th NIC of a '
                             'guest is its eth<k>)' % (show(guest), ', '.join('eth%d' % n for n in used)))
    return networks


def check_clone_settings(raw, host_ids, guest_ids, chk):
    """(range_id, blocks): blocks = [{hosts: [ids], instances, guests: [{guest_id, number, entry_point, rules}], networks}]."""
    items = chk.sequence('clone_settings', raw)
    if items is None:
        return None, []
    if len(items) > 1:
        chk.error('clone_settings', 'holds %d ranges; this collection deploys one range per description '
                                    '(split it into several files)' % len(items))
    place = 'clone_settings[0]'
    first = chk.mapping(place, items[0])
    if first is None:
        return None, []
    rid = first.get('range_id')
    if isinstance(rid, (int,) + _TEXT_TYPES) and not isinstance(rid, bool):
        place = 'clone_settings[0] (range_id=%s)' % rid
    chk.unknown_keys(place, first, CLONE_KEYS)
    range_id = None
    if chk.required(place, first, 'range_id'):
        range_id = check_range_id(place + '.range_id', first['range_id'], chk)
    blocks = []
    if not chk.required(place, first, 'hosts'):
        return range_id, blocks
    for hpos, block in enumerate(chk.sequence(place + '.hosts', first['hosts']) or ()):
        bplace = '%s.hosts[%d]' % (place, hpos)
        if chk.mapping(bplace, block) is None:
            continue
        chk.unknown_keys(bplace, block, CLONE_HOST_KEYS)
        entry = {'hosts': [], 'instances': None, 'guests': [], 'place': bplace}
        if chk.required(bplace, block, 'host_id'):
            text = chk.text(bplace + '.host_id', block['host_id'])
            for hid in [h.strip() for h in (text or '').split(',')]:
                if host_ids is not None and hid not in host_ids:
                    chk.error(bplace + '.host_id', '%s is not a host id in host_settings (known: %s)' % (
                        show(hid), ', '.join(host_ids) or 'none'))
                elif hid in entry['hosts']:
                    chk.error(bplace + '.host_id', '%s is listed twice' % show(hid))
                else:
                    entry['hosts'].append(hid)
        if chk.required(bplace, block, 'instance_number'):
            entry['instances'] = chk.integer(bplace + '.instance_number', block['instance_number'], INSTANCE_RANGE)
        block_guest_ids = set()
        entry_points = []
        if chk.required(bplace, block, 'guests'):
            for gpos, cguest in enumerate(chk.sequence(bplace + '.guests', block['guests']) or ()):
                gplace = '%s.guests[%d]' % (bplace, gpos)
                if chk.mapping(gplace, cguest) is None:
                    continue
                chk.unknown_keys(gplace, cguest, CLONE_GUEST_KEYS)
                clone = {}
                if chk.required(gplace, cguest, 'guest_id'):
                    gid = chk.text(gplace + '.guest_id', cguest['guest_id'])
                    if gid is not None and guest_ids is not None and gid not in guest_ids:
                        chk.error(gplace + '.guest_id', '%s is not a guest id in guest_settings (known: %s)' % (
                            show(gid), ', '.join(sorted(guest_ids)) or 'none'))
                        gid = None
                    elif gid in block_guest_ids:
                        chk.error(gplace + '.guest_id', '%s is listed twice in this block' % show(gid))
                        gid = None
                    clone['guest_id'] = gid
                    if gid:
                        block_guest_ids.add(gid)
                if chk.required(gplace, cguest, 'number'):
                    clone['number'] = chk.integer(gplace + '.number', cguest['number'], CLONE_NUMBER_RANGE)
                clone['entry_point'] = bool(cguest.get('entry_point') is not None and
                                            chk.boolean(gplace + '.entry_point', cguest['entry_point']))
                if clone['entry_point']:
                    entry_points.append(gplace)
                clone['rules'] = cguest.get('forwarding_rules')
                clone['place'] = gplace
                if clone.get('guest_id') and clone.get('number'):
                    entry['guests'].append(clone)
        if len(entry_points) > 1:
            chk.error(bplace, 'entry_point is set on %d guests (%s); at most one guest per block is the entry point' % (
                len(entry_points), ', '.join(p.rsplit('.', 1)[-1] for p in entry_points)))
        networks = None
        if block.get('topology') is not None:
            networks = _check_topology(bplace + '.topology', block['topology'], block_guest_ids, chk)
        entry['networks'] = sorted((networks or {}).values(), key=lambda n: n['segment'])
        if networks:
            joined = set(g for n in networks.values() for g, _nic in n['members'] + [n['gateway'] or (None, 0)])
            for clone in entry['guests']:
                if clone['guest_id'] not in joined:
                    chk.error(bplace, 'guest %s is in no network of its block\'s topology: add it to the members '
                                      'of one' % clone['guest_id'])
        for clone in entry['guests']:
            raw_rules = clone.pop('rules')
            clone['rules'] = []
            if raw_rules is None:
                continue
            for rpos, rule in enumerate(chk.sequence(clone['place'] + '.forwarding_rules', raw_rules) or ()):
                rplace = '%s.forwarding_rules[%d]' % (clone['place'], rpos)
                if chk.mapping(rplace, rule) is not None:
                    chk.unknown_keys(rplace, rule, ('rule',))
                    if chk.required(rplace, rule, 'rule'):
                        parsed = _check_rule(rplace + '.rule', rule['rule'], networks or {}, chk)
                        if parsed:
                            clone['rules'].append(parsed)
        if entry['hosts'] and entry['instances']:
            blocks.append(entry)
    return range_id, blocks


def check_range_id(place, value, chk):
    """The range id as text, or None after recording an error.

    It names the clones (``<guest>_cr<range>_...``), their disk files and the details file:
    a number (as an integer or as digits) within RANGE_ID_NUMBERS, or letters, digits and -.
    """
    if isinstance(value, bool):
        chk.error(place, '%s is not a range id' % show(value))
        return None
    if isinstance(value, int) or (isinstance(value, _TEXT_TYPES) and _DIGITS_RE.match(value)):
        if chk.integer(place, value, RANGE_ID_NUMBERS) is None:
            return None
        return '%s' % value
    return chk.text(place, value, _RANGE_ID_RE, 'a range id (a number, or letters, digits and -, at most 16)')
