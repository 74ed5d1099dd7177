# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Validation of the host_settings section of a range description."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import TEXT_TYPES as _TEXT_TYPES, show

HOST_KEYS = ('id', 'mgmt_addr', 'virbr_addr', 'account')
_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$')
# mgmt_addr and account reach ssh's command line as words: neither may start with "-".
_LABEL = r'[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?'
_HOST_NAME_RE = re.compile(r'^(?=.{1,253}$)%s(?:\.%s)*$' % (_LABEL, _LABEL))
_IP_RE = re.compile(r'^[0-9A-Fa-f:.]{2,45}(%[A-Za-z0-9][A-Za-z0-9_.-]{0,31})?$')
_IPV4_RE = re.compile(r'^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$')
_POSIX_ACCOUNT_RE = re.compile(r'^[a-z_][a-z0-9_-]{0,30}\$?$')


def is_host_address(text):
    """A host name (letters, digits, _ -, dot-separated labels), an IPv4 or an IPv6 address."""
    if _IP_RE.match(text):
        try:
            ipaddress.ip_address(text)
            return True
        except ValueError:
            pass
    # Digits and dots only are an IPv4 address or nothing.
    return bool(_HOST_NAME_RE.match(text)) and not re.match(r'^[0-9.]+$', text)


def _check_host_address(place, value, chk):
    text = chk.text(place, value)
    if text is not None and not is_host_address(text):
        chk.error(place, '%s is not a host name or address (IPv4 or IPv6)' % show(text))
        return None
    return text


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
                                   ('account', _POSIX_ACCOUNT_RE, 'a POSIX account name')):
            if chk.required(place, item, key):
                host[key] = chk.text('%s.%s' % (place, key), item[key], pattern, what)
        if chk.required(place, item, 'mgmt_addr'):
            host['mgmt_addr'] = _check_host_address(place + '.mgmt_addr', item['mgmt_addr'], chk)
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
