# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The guest identity in a domain definition: ``<sysinfo type='fwcfg'>``, read and written.

The identity text may hold the trainee's password hash, so it is not put in the definition:
it is written to ``DISK_DIR/NAME.identity`` (mode 0600, root's; libvirt hands it to QEMU for
the guest's run) and the definition names that file:
``<sysinfo type='fwcfg'><entry name='opt/...' file='PATH'/></sysinfo>``, which libvirt turns
into ``-fw_cfg name=opt/...,file=PATH``: on QEMU's command line there is only the path. The
guest reads the entry from sysfs (see _guest_identity).  The file holds the text encoded as the
inline form of earlier releases did (_guest_identity.fw_cfg_encode: no commas), so one guest
service reads both; an inline entry is still read, and replaced by a file at the next change.
Everything here is pure but ``read_identity_file`` and ``write_identity_file``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile
import xml.etree.ElementTree as ET

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import (
    IDENTITY_ENTRY, fw_cfg_decode, fw_cfg_encode)

SYSINFO_TYPE = 'fwcfg'


def _entries(root):
    return [(sysinfo, entry) for sysinfo in root.findall('sysinfo') if sysinfo.get('type') == SYSINFO_TYPE
            for entry in sysinfo.findall('entry') if entry.get('name') == IDENTITY_ENTRY]


def identity_file_path(disk_dir, name):
    """Where kvm_auto_vm keeps the identity of guest ``name``: beside its disk, where QEMU reaches."""
    return os.path.join(disk_dir, '%s.identity' % name)


def domain_identity(root):
    """(inline identity text, identity file path) of a parsed domain definition ``root``.

    At most one is set; both are None when the domain carries no identity."""
    found = _entries(root)
    if not found:
        return None, None
    entry = found[0][1]
    if entry.get('file'):
        return None, entry.get('file')
    return fw_cfg_decode(entry.text or ''), None


def set_identity(xml, path):
    """``xml`` (domain XML text) whose identity entry names the file ``path``; other fw_cfg
    entries are kept."""
    root = ET.fromstring(xml)
    for sysinfo, entry in _entries(root):
        sysinfo.remove(entry)
    sysinfo = next((s for s in root.findall('sysinfo') if s.get('type') == SYSINFO_TYPE), None)
    if sysinfo is None:
        sysinfo = ET.Element('sysinfo', {'type': SYSINFO_TYPE})
        # libvirt writes <sysinfo> before <os>.
        anchor = root.find('os')
        root.insert(list(root).index(anchor) if anchor is not None else len(root), sysinfo)
    ET.SubElement(sysinfo, 'entry', {'name': IDENTITY_ENTRY, 'file': path})
    return ET.tostring(root, encoding='unicode')


def read_identity_file(path):
    """The identity text in the file ``path``; None when there is no such file."""
    try:
        with open(path, 'rb') as handle:
            return fw_cfg_decode(handle.read().decode('utf-8'))
    except (IOError, OSError):
        return None


def write_identity_file(path, text):
    """Write the identity ``text`` to ``path`` (0600 from its creation), through a temporary file
    and a rename: a guest starting meanwhile reads the old text or the new, never a part."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(fw_cfg_encode(text).encode('utf-8'))
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
