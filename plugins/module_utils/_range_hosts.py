# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Validation of the host_settings section of a range description."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import TEXT_TYPES as _TEXT_TYPES, show

HOST_KEYS = ('id', 'mgmt_addr', 'virbr_addr', 'account')
_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$')
_ADDR_RE = re.compile(r'^[A-Za-z0-9_.:-]{1,253}$')
_IPV4_RE = re.compile(r'^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$')
_POSIX_ACCOUNT_RE = re.compile(r'^[a-z_][a-z0-9_-]{0,30}\$?$')


def check_hosts(raw, chk):
    """Validated host entries: list of dicts {id, mgmt_addr, account, virbr_addr}."""
    hosts = []
    items = chk.sequence('host_settings', raw)
    if items is None:
        return hosts
    seen = {}
    for pos, item in enumerate(items):
        base = 'host_settings[%d]' % pos
        if chk.mapping(base, item) is None:
            continue
        ident = item.get('id')
        place = '%s (id=%s)' % (base, ident) if isinstance(ident, _TEXT_TYPES + (int,)) else base
        chk.unknown_keys(place, item, HOST_KEYS)
        host = {}
        for key, pattern, what in (('id', _ID_RE, 'a host id (letters, digits, _ . -)'),
                                   ('mgmt_addr', _ADDR_RE, 'a host name or address'),
                                   ('account', _POSIX_ACCOUNT_RE, 'a POSIX account name')):
            if chk.required(place, item, key):
                host[key] = chk.text('%s.%s' % (place, key), item[key], pattern, what)
        if item.get('virbr_addr') is not None:
            host['virbr_addr'] = chk.text(place + '.virbr_addr', item['virbr_addr'], _IPV4_RE, 'an IPv4 address')
        if host.get('id'):
            if host['id'] in seen:
                chk.error(place + '.id', '%s is already the id of host_settings[%d]' % (show(host['id']), seen[host['id']]))
                continue
            seen[host['id']] = pos
        if all(host.get(k) for k in ('id', 'mgmt_addr', 'account')):
            hosts.append(host)
    return hosts
