# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The base VMs of a range's ``kvm`` guests: their XML, read on their host before any change.

A ``kvm`` guest clones a VM the operator prepared (``basevm_config_file``, a libvirt domain XML
on ``basevm_host``). Its clones take from that XML what the range does not set:

* ``base_vm_checks(vms)``: one host check per base VM, ``cat`` of its XML on its host;
* ``base_vms(check_results)``: each XML parsed (``parse_base_xml``) into vcpus, memory (MiB),
  machine, arch, firmware, NIC models and the base disk, with the check of that disk on its host;
* ``base_vm_problems(vms, disk_results)``: one message per base VM that cannot be used;
* ``clone_settings(vm, base, nic_count)``: what a clone gets, the range's own values first;
* ``with_base_memory(vms, bases)``: the plan's VMs with each kvm guest's memory as its clone
  will have it, for the capacity check.

The base disk is the XML's first disk device; CyRIS's convention (the XML's path without
``.xml``) only serves an XML that names none.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import xml.etree.ElementTree as ET

BASE_XML_CHECK = 'base VM XML'
BASE_DISK_CHECK = 'base VM disk'
# What stat -c %F names a usable base disk: an image file or a block device (LVM, a partition).
DISK_FILE_TYPES = ('regular file', 'regular empty file', 'block special file')
MAX_XML_CHARS = 1024 * 1024
_MIB_PER_UNIT = {
    'b': 1.0 / 1024 ** 2, 'bytes': 1.0 / 1024 ** 2,
    'kb': 1000.0 / 1024 ** 2, 'k': 1.0 / 1024, 'kib': 1.0 / 1024,
    'mb': 1000.0 ** 2 / 1024 ** 2, 'm': 1.0, 'mib': 1.0,
    'gb': 1000.0 ** 3 / 1024 ** 2, 'g': 1024.0, 'gib': 1024.0,
    'tb': 1000.0 ** 4 / 1024 ** 2, 't': 1024.0 ** 2, 'tib': 1024.0 ** 2,
}
# A DTD could declare entities (billion laughs, external files): a domain XML never needs one.
_DTD_RE = re.compile(r'<!(DOCTYPE|ENTITY)', re.I)


class BaseXmlError(ValueError):
    """The text is not a libvirt domain XML this collection can clone; the message says why."""


def _positive(text, what):
    try:
        value = int((text or '').strip())
    except ValueError:
        raise BaseXmlError('%s %r is not a whole number' % (what, text))
    if value < 1:
        raise BaseXmlError('%s %r must be at least 1' % (what, text))
    return value


def _memory_mib(element):
    unit = (element.get('unit') or 'KiB').lower()
    if unit not in _MIB_PER_UNIT:
        raise BaseXmlError('<memory unit=%r> is not a libvirt memory unit' % element.get('unit'))
    amount = _positive(element.text, '<memory>')
    return max(1, int(round(amount * _MIB_PER_UNIT[unit])))


def _firmware(os_element):
    if os_element is None:
        return 'bios'
    if os_element.get('firmware'):
        return os_element.get('firmware')
    loader = os_element.find('loader')
    # A pflash loader is UEFI's code (OVMF, AAVMF); a rom loader is a BIOS of the operator's own.
    if loader is not None and (loader.get('type') == 'pflash' or re.search(r'ovmf|aavmf|edk2|efi', loader.text or '', re.I)):
        return 'efi'
    return 'bios'


def _first_disk(devices):
    for disk in devices.findall('disk') if devices is not None else ():
        if (disk.get('device') or 'disk') != 'disk':
            continue
        source = disk.find('source')
        path = None if source is None else source.get('file') or source.get('dev')
        if not path:
            raise BaseXmlError("its first disk device has no file or dev source (a network disk cannot be a base disk)")
        return path
    return None


def parse_base_xml(text):
    """{vcpus, memory, machine, arch, firmware, nic_models, disk} of a libvirt domain XML.

    ``vcpus`` is the count that runs (``current`` when set), ``memory`` the maximum in MiB,
    ``firmware`` ``efi`` or ``bios``, ``nic_models`` one per ``<interface>`` (None where it names
    none), ``disk`` the source of the first disk device (None when it has none). Raises
    BaseXmlError when the text is not such an XML, holds a DTD, or a value is unusable.
    """
    if len(text) > MAX_XML_CHARS:
        raise BaseXmlError('it is larger than %d characters' % MAX_XML_CHARS)
    if _DTD_RE.search(text):
        raise BaseXmlError('it holds a DOCTYPE or ENTITY declaration, which a domain XML never needs')
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise BaseXmlError('it is not well-formed XML: %s' % exc)
    if root.tag != 'domain':
        raise BaseXmlError('its root element is <%s>, not a libvirt <domain>' % root.tag)
    vcpu = root.find('vcpu')
    memory = root.find('memory')
    os_element = root.find('os')
    os_type = os_element.find('type') if os_element is not None else None
    devices = root.find('devices')
    return {
        'vcpus': None if vcpu is None else _positive(vcpu.get('current') or vcpu.text, '<vcpu>'),
        'memory': None if memory is None else _memory_mib(memory),
        'machine': os_type.get('machine') if os_type is not None else None,
        'arch': os_type.get('arch') if os_type is not None else None,
        'firmware': _firmware(os_element),
        'nic_models': [(nic.find('model').get('type') if nic.find('model') is not None else None)
                       for nic in (devices.findall('interface') if devices is not None else ())],
        'disk': _first_disk(devices),
    }


def base_vm_checks(vms):
    """One check per (guest, host) of the plan's ``kvm`` guests: the ``cat`` of its base VM's XML.

    ``no_log``: a domain XML may hold a graphics password; its text stays out of the log.
    """
    checks = []
    seen = set()
    for vm in vms:
        key = (vm['guest'], vm['inventory_host'])
        if vm['basevm_type'] != 'kvm' or key in seen:
            continue
        seen.add(key)
        checks.append({'inventory_host': vm['inventory_host'], 'what': '%s of %s' % (BASE_XML_CHECK, vm['guest']),
                       'argv': ['cat', '--', vm['config_file']], 'base_vm': vm['guest'],
                       'config_file': vm['config_file'], 'convention_disk': vm['image'], 'no_log': True})
    return checks


def base_vms(check_results):
    """Each base VM whose XML check ran: {guest, inventory_host, config_file, settings, problem,
    disk, disk_from, disk_check}; ``settings`` is None and ``problem`` says why when the XML
    cannot be used, ``disk_check`` is the argv that shows the base disk on its host."""
    found = []
    for result in check_results or ():
        item = result.get('item') if isinstance(result, dict) else None
        if not isinstance(item, dict) or not item.get('base_vm') or result.get('skipped'):
            continue
        entry = {'guest': item['base_vm'], 'inventory_host': item['inventory_host'], 'config_file': item['config_file'],
                 'settings': None, 'problem': None, 'disk': None, 'disk_from': None, 'disk_check': None}
        if result.get('rc') != 0:
            err = (result.get('stderr') or result.get('msg') or '').strip().splitlines()
            entry['problem'] = 'cannot be read there (rc=%s): %s' % (result.get('rc'), err[-1] if err else 'no error text')
        else:
            try:
                entry['settings'] = parse_base_xml(result.get('stdout') or '')
            except BaseXmlError as exc:
                entry['problem'] = 'is not a usable libvirt domain XML: %s' % exc
        if entry['settings'] is not None:
            entry['disk'] = entry['settings']['disk'] or item['convention_disk']
            entry['disk_from'] = 'xml' if entry['settings']['disk'] else 'convention'
            entry['disk_check'] = ['stat', '-L', '-c', '%F', '--', entry['disk']]
        found.append(entry)
    return found


def _subject(base):
    return 'guest %s (host %s): basevm_config_file %s' % (base['guest'], base['inventory_host'], base['config_file'])


def base_vm_problems(vms, disk_results):
    """[{host, what, message}] for each base VM that cannot be cloned: its XML, then its disk.

    ``disk_results``: the results of each base VM's ``disk_check`` (its loop item is the base VM).
    """
    problems = []
    disks = {}
    for result in disk_results or ():
        item = result.get('item') if isinstance(result, dict) else None
        if isinstance(item, dict) and not result.get('skipped'):
            disks[(item['guest'], item['inventory_host'])] = result
    for base in vms or ():
        message = None
        if base['problem']:
            message = '%s %s' % (_subject(base), base['problem'])
        else:
            result = disks.get((base['guest'], base['inventory_host'])) or {}
            kind = (result.get('stdout') or '').strip()
            source = 'its first disk' if base['disk_from'] == 'xml' else 'the XML names no disk; by CyRIS\'s convention'
            if result.get('rc') != 0:
                message = '%s: %s, the base disk %s, does not exist on the host' % (_subject(base), source, base['disk'])
            elif kind not in DISK_FILE_TYPES:
                message = '%s: %s, the base disk %s, is a %s, not an image file or block device' % (
                    _subject(base), source, base['disk'], kind or 'file of unknown type')
        if message:
            problems.append({'host': base['inventory_host'], 'what': BASE_XML_CHECK, 'message': message})
    return problems


def clone_settings(vm, base, nic_count):
    """What a clone of a ``kvm`` guest gets: {image, vcpus, memory, machine, firmware, nic_models}.

    The range's own ``vcpus``, ``memory`` and ``network_model`` win over the base VM's (``base``,
    an entry of ``base_vms``, or None when its XML was not read). ``nic_models`` has one model per
    NIC of the clone (``nic_count``); a clone with more NICs than its base gives the extra ones the
    base's last model, and a NIC without one gets virtio.
    """
    settings = (base or {}).get('settings') or {}
    models = [m or 'virtio' for m in settings.get('nic_models') or []] or ['virtio']
    return {
        'image': (base or {}).get('disk') or vm['image'],
        'vcpus': vm['vcpus'] or settings.get('vcpus'),
        'memory': vm['memory'] or settings.get('memory'),
        'machine': settings.get('machine'),
        'firmware': settings.get('firmware'),
        'nic_models': [vm['network_model'] or models[min(index, len(models) - 1)] for index in range(nic_count)],
    }


def with_base_memory(vms, bases):
    """``vms`` (the plan's) with the ``memory`` of each kvm guest that leaves it unset taken from its base VM."""
    if not bases:
        return vms
    by_key = dict(((b['guest'], b['inventory_host']), b) for b in bases)
    found = []
    for vm in vms:
        base = by_key.get((vm['guest'], vm['inventory_host']))
        if vm['basevm_type'] == 'kvm' and not vm['memory'] and base:
            vm = dict(vm, memory=clone_settings(vm, base, 0)['memory'])
        found.append(vm)
    return found
