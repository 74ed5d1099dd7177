# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Disk sizes in the CyRIS form (``20G``, ``512M``, ``1048576K``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_SIZE_RE = re.compile(r'^([1-9][0-9]*)([KMGT])$')
_UNITS = {'K': 1024, 'M': 1024 ** 2, 'G': 1024 ** 3, 'T': 1024 ** 4}
# The largest virtual size of a qcow2 image with the default 64 KiB clusters (qemu-img 7.2
# refuses 2048T plus 1M): its L1 table holds at most 4 Mi entries of 512 MiB each.
MAX_SIZE = 2048 * 1024 ** 4


def parse_size(text):
    """Bytes in a CyRIS size such as ``20G``; raise ValueError when malformed or beyond MAX_SIZE."""
    match = _SIZE_RE.match(str(text).strip()) if text is not None else None
    if not match:
        raise ValueError('%r is not a size such as 20G, 512M or 1048576K' % (text,))
    # Counting digits first keeps int() away from numbers of thousands of digits.
    if len(match.group(1)) > len(str(MAX_SIZE)) or int(match.group(1)) * _UNITS[match.group(2)] > MAX_SIZE:
        raise ValueError('%r is larger than %s, the largest disk a qcow2 image holds' % (text, format_size(MAX_SIZE)))
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_size(num_bytes):
    """The shortest exact CyRIS form of ``num_bytes`` (``6G``, ``1536M``)."""
    for unit in ('T', 'G', 'M', 'K'):
        if num_bytes % _UNITS[unit] == 0 and num_bytes >= _UNITS[unit]:
            return '%d%s' % (num_bytes // _UNITS[unit], unit)
    return '%dB' % num_bytes
