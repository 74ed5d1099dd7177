# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""libvirt side of kvm_auto_vm: read a defined domain into plain data, edit its XML, run its lifecycle.

``parse_domain_xml`` and ``patch_domain_xml`` are pure (XML text in, data or XML text out);
the ``Libvirt`` class wraps one connection and turns every libvirt error into a VmError
that says what was being done.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import re
import time
import traceback
import xml.etree.ElementTree as ET

from ansible_collections.cyris.kvm_auto.plugins.module_utils._libvirt_common import (
    LIBVIRT_IMPORT_ERROR, LibvirtConnection, find_ours, libvirt)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_access import domain_access
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_identity import domain_identity, read_identity_file
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_spec import (
    LIBOSINFO_NS, METADATA_NS, VmError)

try:
    import libvirt_qemu
except ImportError:
    LIBVIRT_IMPORT_ERROR = LIBVIRT_IMPORT_ERROR or traceback.format_exc()

# libvirt memory units -> bytes (https://libvirt.org/formatdomain.html#memory-allocation)
_UNITS = {
    'b': 1, 'bytes': 1,
    'kb': 1000, 'k': 1024, 'kib': 1024,
    'mb': 1000 ** 2, 'm': 1024 ** 2, 'mib': 1024 ** 2,
    'gb': 1000 ** 3, 'g': 1024 ** 3, 'gib': 1024 ** 3,
    'tb': 1000 ** 4, 't': 1024 ** 4, 'tib': 1024 ** 4,
}

# virDomainState -> what the module reports.
RUNNING, STOPPED, PAUSED = 'running', 'stopped', 'paused'
_STATE_NAMES = {
    0: STOPPED,   # NOSTATE
    1: RUNNING,   # RUNNING
    2: RUNNING,   # BLOCKED
    3: PAUSED,    # PAUSED
    4: RUNNING,   # SHUTDOWN: being shut down, still running
    5: STOPPED,   # SHUTOFF
    6: STOPPED,   # CRASHED
    7: PAUSED,    # PMSUSPENDED
}


def _memory_mib(element):
    if element is None or not (element.text or '').strip():
        return None
    unit = (element.get('unit') or 'KiB').lower()
    return int(element.text.strip()) * _UNITS.get(unit, 1024) // (1024 ** 2)


def _interface(element):
    kind = element.get('type')
    source = element.find('source')
    nic = {}
    if kind in ('network', 'bridge') and source is not None:
        nic[kind] = source.get(kind)
    else:
        nic['type'] = kind
    mac = element.find('mac')
    model = element.find('model')
    nic['mac'] = mac.get('address').lower() if mac is not None and mac.get('address') else None
    nic['model'] = model.get('type') if model is not None else None
    return nic


def _graphics(devices):
    element = devices.find('graphics') if devices is not None else None
    if element is None:
        return {'type': 'none', 'port': None, 'listen': None}
    kind = element.get('type')
    if kind not in ('vnc', 'spice'):
        return {'type': kind, 'port': None, 'listen': None}
    port = element.get('port')
    port = int(port) if port and element.get('autoport') != 'yes' and int(port) > 0 else None
    listen = element.get('listen')
    if listen is None:
        child = element.find('listen')
        listen = child.get('address') if child is not None else None
    return {'type': kind, 'port': port, 'listen': listen}


def _ours(root):
    element = find_ours(root, 'vm')
    if element is None:
        return None
    image = element.find('{%s}image' % METADATA_NS)
    osinfo = element.find('{%s}osinfo' % METADATA_NS)
    identity = None
    if image is not None and image.get('size') and image.get('mtime_ns'):
        identity = {'size': int(image.get('size')), 'mtime_ns': int(image.get('mtime_ns'))}
    return {
        'image': image.get('path') if image is not None else None,
        'image_format': image.get('format') if image is not None else None,
        'image_identity': identity,
        'osinfo': osinfo.get('id') if osinfo is not None else None,
        'disks': [{'path': d.get('path'), 'mode': d.get('mode')} for d in element.findall('{%s}disk' % METADATA_NS)],
    }


def parse_domain_xml(xml):
    """The parts of a domain definition the module manages, as plain data."""
    root = ET.fromstring(xml)
    devices = root.find('devices')
    devices = devices if devices is not None else ET.Element('devices')
    disks = []
    for disk in devices.findall('disk'):
        source = disk.find('source')
        if disk.get('device', 'disk') == 'disk' and source is not None:
            disks.append(source.get('file') or source.get('dev') or source.get('name'))
    console_log = None
    for serial in devices.findall('serial') + devices.findall('console'):
        log = serial.find('log')
        if log is not None and log.get('file'):
            console_log = log.get('file')
            break
    osinfo = root.find('metadata/{%s}libosinfo/{%s}os' % (LIBOSINFO_NS, LIBOSINFO_NS))
    vcpu = root.find('vcpu')
    return {
        'name': root.findtext('name'),
        'uuid': root.findtext('uuid'),
        'vcpus': int(vcpu.get('current') or vcpu.text) if vcpu is not None else None,
        'memory': _memory_mib(root.find('memory')),
        'interfaces': [_interface(e) for e in devices.findall('interface')],
        'graphics': _graphics(devices),
        'disks': disks,
        'console_log': console_log,
        'osinfo_url': osinfo.get('id') if osinfo is not None else None,
        # The text of an inline entry (an older definition); a file's text is read by inspect().
        'identity': domain_identity(root)[0],
        'identity_file': domain_identity(root)[1],
        'access': domain_access(xml),
        'ours': _ours(root),
    }


def _replace_devices(devices, fresh_devices, tag, keep_address):
    """Replace the ``tag`` devices with the fresh ones, in place; optionally keep their PCI addresses."""
    old = devices.findall(tag)
    position = _child_index(devices, old[0]) if old else len(devices)
    for element in old:
        devices.remove(element)
    for index, element in enumerate(fresh_devices.findall(tag)):
        element = copy.deepcopy(element)
        if keep_address and index < len(old) and old[index].find('address') is not None:
            element.append(copy.deepcopy(old[index].find('address')))
        devices.insert(position + index, element)


def _child_index(parent, child):
    return list(parent).index(child)


def _take_child(root, fresh, tag, after):
    """Make ``root``'s child ``tag`` a copy of ``fresh``'s (added after ``after``, or dropped)."""
    old, new = root.find(tag), fresh.find(tag)
    if old is not None and new is None:
        root.remove(old)
    elif old is not None:
        old.text, old.attrib = new.text, dict(new.attrib)
    elif new is not None:
        anchor = root.find(after)
        position = _child_index(root, anchor) + 1 if anchor is not None else len(root)
        root.insert(position, copy.deepcopy(new))


def patch_domain_xml(current_xml, fresh_xml, fields):
    """``current_xml`` with the managed ``fields`` taken from ``fresh_xml``.

    Everything else of the defined domain (PCI addresses, devices added by hand) is kept, so a
    guest's NICs keep their slots and names.  ``fresh_xml`` is virt-install's rendering of the
    desired guest, rendered with the MACs to keep.
    """
    root = ET.fromstring(current_xml)
    fresh = ET.fromstring(fresh_xml)
    devices = root.find('devices')
    fresh_devices = fresh.find('devices')
    if 'memory' in fields:
        for tag in ('memory', 'currentMemory'):
            _take_child(root, fresh, tag, after='memory')
    if 'vcpus' in fields:
        vcpu = root.find('vcpu')
        fresh_vcpu = fresh.find('vcpu')
        vcpu.text = fresh_vcpu.text
        vcpu.attrib.pop('current', None)
    if 'interfaces' in fields:
        _replace_devices(devices, fresh_devices, 'interface', keep_address=True)
    if 'graphics' in fields:
        _replace_devices(devices, fresh_devices, 'graphics', keep_address=False)
    if 'disk' in fields:
        fresh_source = fresh_devices.find('disk/source').get('file')
        for disk in devices.findall('disk'):
            if disk.get('device', 'disk') == 'disk':
                disk.set('type', 'file')
                source = disk.find('source')
                source.attrib.clear()
                source.set('file', fresh_source)
                driver = disk.find('driver')
                if driver is not None:
                    driver.set('type', 'qcow2')
                break
    return ET.tostring(root, encoding='unicode')


def _has_nvram(xml):
    return ET.fromstring(xml).find('os/nvram') is not None


def undefine_flags(xml):
    """Flags that remove a domain with its managed save and snapshot metadata, and its
    NVRAM when it has one (some drivers refuse the NVRAM flag for guests without it)."""
    flags = libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    if _has_nvram(xml):
        flags |= libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    return flags


def console_tail(path, limit=2000):
    """Last ``limit`` characters of the console log, for error messages."""
    try:
        with open(path, 'rb') as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode('utf-8', 'replace')
    except (IOError, OSError):
        return ''


def remove_console_log(path, configured):
    """Delete the console log of a removed guest: only when the domain's log ``path`` is the one
    kvm_auto_vm ``configured`` for it (``console_log_path``), never a file a changed definition
    names elsewhere. Return whether it deleted the file."""
    if not path or path != configured or not os.path.exists(path):
        return False
    os.unlink(path)
    return True


def remove_identity_file(path, configured):
    """Delete the identity file of a removed guest: only when the domain names the file
    kvm_auto_vm keeps for it (``_vm_identity.identity_file_path``). Return whether it did."""
    if not path or path != configured or not os.path.exists(path):
        return False
    os.unlink(path)
    return True


def read_console(path, offset):
    """(text written since ``offset``, new offset); starts over when the log was truncated."""
    try:
        with open(path, 'rb') as handle:
            handle.seek(0, 2)
            if handle.tell() < offset:
                offset = 0  # a new boot truncated the log (append='off')
            handle.seek(offset)
            data = handle.read()
    except (IOError, OSError):
        return '', offset
    return data.decode('utf-8', 'replace'), offset + len(data)


class Libvirt(LibvirtConnection):
    """One libvirt connection for a guest; methods raise VmError naming what failed and why."""

    error = VmError

    def lookup(self, name):
        """The domain named ``name``, or None."""
        try:
            return self.conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise VmError('cannot look up the domain in libvirt: %s' % exc)

    def inspect(self, dom):
        """Plain data of a defined domain: its persistent definition, run state and autostart."""
        xml = self.definition(dom)
        try:
            state = _STATE_NAMES.get(dom.state()[0], STOPPED)
            autostart = bool(dom.autostart())
        except libvirt.libvirtError as exc:
            raise VmError('cannot read the domain from libvirt: %s' % exc)
        current = parse_domain_xml(xml)
        if current['identity_file']:
            current['identity'] = read_identity_file(current['identity_file'])
        current.update({'xml': xml, 'state': state, 'autostart': autostart,
                        'live_access': domain_access(self._live_xml(dom)) if state != STOPPED else None})
        return current

    @staticmethod
    def _live_xml(dom):
        # What the running QEMU was started with: the persistent definition may differ from it.
        try:
            return dom.XMLDesc(0)
        except libvirt.libvirtError as exc:
            raise VmError('cannot read the running domain from libvirt: %s' % exc)

    def definition(self, dom):
        """The persistent definition (XML text) as libvirt holds it."""
        try:
            return dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        except libvirt.libvirtError as exc:
            raise VmError('cannot read the domain from libvirt: %s' % exc)

    def define(self, xml):
        try:
            return self.conn.defineXML(xml)
        except libvirt.libvirtError as exc:
            raise VmError('libvirt refused the domain definition: %s' % exc)

    @staticmethod
    def _act(what, call, *args):
        try:
            return call(*args)
        except libvirt.libvirtError as exc:
            raise VmError('cannot %s the domain: %s' % (what, exc))

    def set_autostart(self, dom, value):
        self._act('set autostart of', dom.setAutostart, 1 if value else 0)

    def start(self, dom):
        self._act('start', dom.create)

    def resume(self, dom):
        if dom.state()[0] == libvirt.VIR_DOMAIN_PMSUSPENDED:
            self._act('wake up', dom.pMWakeup, 0)
        else:
            self._act('resume', dom.resume)

    def destroy(self, dom):
        if dom.isActive():
            self._act('destroy', dom.destroy)

    def stop(self, dom, timeout):
        """Shut the guest down (ACPI); power it off when it is still up after ``timeout`` s.

        Returns True when it had to be powered off.
        """
        if dom.state()[0] in (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PMSUSPENDED):
            self.destroy(dom)
            return True
        self._act('shut down', dom.shutdown)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not dom.isActive():
                return False
            time.sleep(1)
        self.destroy(dom)
        return True

    def undefine(self, dom, xml):
        self._act('undefine', dom.undefineFlags, undefine_flags(xml))

    def wait_console(self, dom, path, pattern, timeout):
        """Poll the console log until ``pattern`` shows; raise VmError on timeout or guest stop."""
        deadline = time.time() + timeout
        offset, seen = 0, ''
        while True:
            text, offset = read_console(path, offset)
            # Keep a tail of what was read so a prompt split across two reads still matches.
            seen = seen[-4096:] + text
            if re.search(pattern, seen):
                return
            if not dom.isActive():
                raise VmError('the guest stopped before %r appeared on its console (log %s); last output: %s' % (
                    pattern, path, console_tail(path, 500)))
            if time.time() >= deadline:
                raise VmError('no %r on the serial console within wait_timeout=%d s (log %s); last output: %s' % (
                    pattern, timeout, path, console_tail(path, 500)))
            time.sleep(1)

    def wait_agent(self, dom, timeout):
        """Poll until qemu-guest-agent answers guest-ping; raise VmError on timeout."""
        deadline = time.time() + timeout
        last_error = None
        while True:
            try:
                libvirt_qemu.qemuAgentCommand(dom, '{"execute": "guest-ping"}', 5, 0)
                return
            except libvirt.libvirtError as exc:
                last_error = exc
            if not dom.isActive():
                raise VmError('the guest stopped before its qemu-guest-agent answered')
            if time.time() >= deadline:
                raise VmError('qemu-guest-agent did not answer guest-ping within wait_timeout=%d s: %s' % (timeout, last_error))
            time.sleep(2)
