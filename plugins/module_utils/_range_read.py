# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Reading a CyRIS range description: its three sections, in list form or mapping form."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import kind_of, show

SECTIONS = ('host_settings', 'guest_settings', 'clone_settings')


def split_sections(data, chk, variables=False):
    """The three sections of a range in list form or mapping form.

    Returns a dict section -> raw value (missing sections absent).
    """
    sections = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key not in SECTIONS:
                chk.error('', 'unknown top-level key %s (known: %s)' % (show('%s' % key), ', '.join(SECTIONS)))
            else:
                sections[key] = value
    elif isinstance(data, list):
        for pos, item in enumerate(data):
            place = '[%d]' % pos
            if not isinstance(item, Mapping) or len(item) != 1:
                chk.error(place, 'expected a single-key mapping such as {host_settings: [...]}, got %s' % (
                    kind_of(item) if not isinstance(item, Mapping) else 'a mapping with %d keys' % len(item)))
                continue
            key = list(item)[0]
            if key not in SECTIONS:
                chk.error(place, 'unknown section %s (known: %s)' % (show('%s' % key), ', '.join(SECTIONS)))
            elif key in sections:
                chk.error(place, 'section %s appears twice' % key)
            else:
                sections[key] = item[key]
    else:
        chk.error('', 'a range description is a list of host_settings, guest_settings and clone_settings, '
                      'or a mapping with those keys; got %s' % kind_of(data))
        return sections
    if 'guest_settings' not in sections:
        chk.error('', 'missing section guest_settings')
    if 'host_settings' not in sections and not variables:
        chk.error('', 'missing section host_settings')
    return sections
