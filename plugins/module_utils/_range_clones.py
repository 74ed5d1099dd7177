# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Validation of the clone_settings section: range id, host blocks, clones, topology, forwarding rules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import TEXT_TYPES as _TEXT_TYPES, show

INSTANCE_RANGE = (1, 100)
CLONE_NUMBER_RANGE = (1, 100)

CLONE_KEYS = ('range_id', 'hosts')
CLONE_HOST_KEYS = ('host_id', 'instance_number', 'guests', 'topology')
CLONE_GUEST_KEYS = ('guest_id', 'number', 'entry_point', 'forwarding_rules')

_GUEST_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$')
_RANGE_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9-]{0,15}$')
_MEMBER_RE = re.compile(r'^([A-Za-z0-9][A-Za-z0-9_-]*)\.eth([0-9]+)$')
_RULE_KEYS = ('src', 'dst', 'sport', 'dport')


def _check_rule(place, value, networks, chk):
    text = chk.text(place, value)
    if text is None:
        return
    fields = {}
    for token in text.split():
        key, sep, val = token.partition('=')
        if not sep or key not in _RULE_KEYS or not val or key in fields:
            chk.error(place, '%s is not a rule such as "src=office dst=servers.web dport=80"' % show(text))
            return
        fields[key] = val
    if 'src' not in fields or 'dst' not in fields:
        chk.error(place, '%s needs src= and dst=' % show(text))
        return
    if networks is not None:
        names = fields['src'].split(',') + [fields['dst'].split('.')[0]]
        for name in names:
            if name not in networks:
                chk.error(place, 'network %s is not in this block\'s topology (known: %s)' % (
                    show(name), ', '.join(sorted(networks)) or 'none'))


def _check_topology(place, raw, guest_ids, chk):
    """Network names of the block (validated); None when there is no usable topology."""
    items = chk.sequence(place, raw)
    if items is None:
        return None
    names = set()
    for pos, topo in enumerate(items):
        tplace = '%s[%d]' % (place, pos)
        if chk.mapping(tplace, topo) is None:
            continue
        chk.unknown_keys(tplace, topo, ('type', 'networks'))
        if chk.required(tplace, topo, 'type'):
            chk.choice(tplace + '.type', topo['type'], ('custom',))
        if not chk.required(tplace, topo, 'networks'):
            continue
        networks = chk.sequence(tplace + '.networks', topo['networks'])
        for npos, net in enumerate(networks or ()):
            nplace = '%s.networks[%d]' % (tplace, npos)
            if chk.mapping(nplace, net) is None:
                continue
            chk.unknown_keys(nplace, net, ('name', 'members', 'gateway'))
            if chk.required(nplace, net, 'name'):
                name = chk.text(nplace + '.name', net['name'], _GUEST_ID_RE, 'a network name (letters, digits, _ -)')
                if name in names:
                    chk.error(nplace + '.name', '%s appears twice' % show(name))
                names.add(name)
            members = []
            if chk.required(nplace, net, 'members'):
                text = chk.text(nplace + '.members', net['members'])
                members = [m.strip() for m in (text or '').split(',') if m.strip()]
            if net.get('gateway') is not None:
                members.append(chk.text(nplace + '.gateway', net['gateway']) or '')
            for member in members:
                match = _MEMBER_RE.match(member)
                if not match:
                    chk.error(nplace, '%s is not a member such as desktop.eth0' % show(member))
                elif match.group(1) not in guest_ids:
                    chk.error(nplace, 'member %s names a guest that is not in this block\'s guests (known: %s)' % (
                        show(member), ', '.join(sorted(guest_ids)) or 'none'))
    return names


def check_clone_settings(raw, host_ids, guest_ids, chk):
    """(range_id, blocks) where blocks = [{hosts: [ids], instances, guests: [{guest_id, number, entry_point}]}]."""
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
        entry = {'hosts': [], 'instances': None, 'guests': []}
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
            if networks:
                chk.warn(bplace + '.topology', 'topology networks are not built yet: guests attach to one '
                                               'libvirt network (kvm_auto_range_network)')
        for clone in entry['guests']:
            if clone['rules'] is None:
                continue
            for rpos, rule in enumerate(chk.sequence(clone['place'] + '.forwarding_rules', clone['rules']) or ()):
                rplace = '%s.forwarding_rules[%d]' % (clone['place'], rpos)
                if chk.mapping(rplace, rule) is not None:
                    chk.unknown_keys(rplace, rule, ('rule',))
                    if chk.required(rplace, rule, 'rule'):
                        _check_rule(rplace + '.rule', rule['rule'], networks, chk)
        if entry['hosts'] and entry['instances']:
            blocks.append(entry)
    return range_id, blocks


def check_range_id(place, value, chk):
    if isinstance(value, bool):
        chk.error(place, '%s is not a range id' % show(value))
        return None
    if isinstance(value, int):
        if value < 1:
            chk.error(place, '%d is not a positive integer' % value)
            return None
        return '%d' % value
    return chk.text(place, value, _RANGE_ID_RE, 'a range id (a number, or letters, digits and -, at most 16)')
