# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The guest identity in a domain definition: ``<sysinfo type='fwcfg'>``, read and written.

libvirt turns ``<sysinfo type='fwcfg'><entry name='opt/...'>TEXT</entry></sysinfo>`` into a QEMU
``-fw_cfg name=opt/...,string=TEXT``, which the guest reads from sysfs (see _guest_identity).
libvirt 9.0 keeps the line breaks of TEXT (checked with virsh define and dumpxml) but passes its
commas to QEMU unescaped, so TEXT is stored encoded (_guest_identity.fw_cfg_encode) and decoded
when read back; callers only see the plain text.  Both functions are pure.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import xml.etree.ElementTree as ET

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import (
    IDENTITY_ENTRY, fw_cfg_decode, fw_cfg_encode)

SYSINFO_TYPE = 'fwcfg'


def _entries(root):
    return [(sysinfo, entry) for sysinfo in root.findall('sysinfo') if sysinfo.get('type') == SYSINFO_TYPE
            for entry in sysinfo.findall('entry') if entry.get('name') == IDENTITY_ENTRY]


def domain_identity(root):
    """The identity text of a parsed domain definition ``root``; None when it carries none."""
    found = _entries(root)
    return fw_cfg_decode(found[0][1].text or '') if found else None


def set_identity(xml, text):
    """``xml`` (domain XML text) carrying the identity ``text``; other fw_cfg entries are kept."""
    root = ET.fromstring(xml)
    for sysinfo, entry in _entries(root):
        sysinfo.remove(entry)
    sysinfo = next((s for s in root.findall('sysinfo') if s.get('type') == SYSINFO_TYPE), None)
    if sysinfo is None:
        sysinfo = ET.Element('sysinfo', {'type': SYSINFO_TYPE})
        # libvirt writes <sysinfo> before <os>.
        anchor = root.find('os')
        root.insert(list(root).index(anchor) if anchor is not None else len(root), sysinfo)
    ET.SubElement(sysinfo, 'entry', {'name': IDENTITY_ENTRY}).text = fw_cfg_encode(text)
    return ET.tostring(root, encoding='unicode')
