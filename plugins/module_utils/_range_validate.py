# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Validation of the guest_settings section of a range description."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import shlex
from collections.abc import Mapping

from ansible_collections.cyris.kvm_auto.plugins.module_utils._cyris_schema import DEFAULT_ARCH, build_time_tasks
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import TEXT_TYPES as _TEXT_TYPES, kind_of, show
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_tasks import after_boot_tasks, check_tasks
from ansible_collections.cyris.kvm_auto.plugins.module_utils._sizes import format_size, parse_size
from ansible_collections.cyris.kvm_auto.plugins.module_utils._virt_builder import (
    TemplateError, find_template, parse_template_list)

BASEVM_TYPES = ('kvm', 'kvm-auto', 'aws')
GRAPHICS_TYPES = ('vnc', 'spice', 'sdl', 'none')
CONSOLE_TYPES = ('pty', 'file', 'tcp', 'udp', 'unix')
NETWORK_MODELS = ('virtio', 'e1000', 'rtl8139', 'ne2k_pci')
VCPUS_RANGE = (1, 32)
MEMORY_RANGE = (256, 32768)
GRAPHICS_PORT_RANGE = (1024, 65535)

GUEST_COMMON_KEYS = ('id', 'basevm_type', 'basevm_host', 'basevm_config_file', 'basevm_os_type', 'ip_addr', 'tasks')
GUEST_VM_KEYS = ('vcpus', 'memory', 'graphics_type', 'graphics_port', 'graphics_listen', 'console_type',
                 'network_model', 'os_variant', 'boot_options', 'cpu_model', 'extra_args')
GUEST_IMAGE_KEYS = ('image_name', 'disk_size')

# Guest ids also appear in topology members ("desktop.eth0"), so no dots.
_GUEST_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$')
_IPV4_RE = re.compile(r'^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$')
_IP_RE = re.compile(r'^[0-9A-Fa-f.:]{2,45}$')
_TEMPLATE_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
_OSINFO_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
_OPTION_TEXT_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9,.=:_+-]{0,255}$')


def _check_extra_args(place, value, chk):
    if isinstance(value, _TEXT_TYPES):
        try:
            return shlex.split(value)
        except ValueError as exc:
            chk.error(place, '%s cannot be split into arguments: %s' % (show(value), exc))
            return None
    if isinstance(value, list) and all(isinstance(v, _TEXT_TYPES) for v in value):
        return ['%s' % v for v in value]
    chk.error(place, 'expected a string or a list of strings, got %s' % kind_of(value))
    return None


def check_guest(pos, item, host_ids, chk, templates, resolve_file):
    """One validated guest (dict) or None."""
    base = 'guest_settings[%d]' % pos
    if chk.mapping(base, item) is None:
        return None
    ident = item.get('id')
    place = '%s (id=%s)' % (base, ident) if isinstance(ident, _TEXT_TYPES + (int,)) else base
    guest = {}
    errors_before = len(chk.errors)
    if chk.required(place, item, 'id'):
        guest['id'] = chk.text(place + '.id', item['id'], _GUEST_ID_RE,
                               'a guest id (letters, digits, _ -, at most 40, no dots)')
    btype = None
    if chk.required(place, item, 'basevm_type'):
        btype = chk.choice(place + '.basevm_type', item['basevm_type'], BASEVM_TYPES)
        if btype == 'aws':
            chk.error(place + '.basevm_type', "'aws' guests are not supported by this collection (KVM only)")
            btype = None
    guest['basevm_type'] = btype
    allowed = GUEST_COMMON_KEYS + GUEST_VM_KEYS + GUEST_IMAGE_KEYS
    chk.unknown_keys(place, item, allowed)

    if item.get('basevm_host') is not None:
        host = chk.text(place + '.basevm_host', item['basevm_host'])
        if host is not None and host_ids is not None and host not in host_ids:
            chk.error(place + '.basevm_host', '%s is not a host id in host_settings (known: %s)' % (
                show(host), ', '.join(host_ids) or 'none'))
        guest['basevm_host'] = host
    if btype == 'kvm':
        chk.required(place, item, 'basevm_host')
        if chk.required(place, item, 'basevm_config_file'):
            path = chk.text(place + '.basevm_config_file', item['basevm_config_file'])
            if path is not None and (not path.startswith('/') or not path.endswith('.xml') or len(path) < 6):
                chk.error(place + '.basevm_config_file', '%s is not an absolute path to a libvirt XML file (*.xml)' % show(path))
            elif path is not None:
                guest['config_file'] = path
                # CyRIS's convention, for an XML that names no disk (see _range_base_vms).
                guest['base_disk'] = path[:-len('.xml')]
        for key in GUEST_IMAGE_KEYS:
            if key in item:
                chk.error(place + '.' + key, 'only for basevm_type kvm-auto (this guest clones an existing base VM)')
        if 'tasks' in item:
            chk.error(place + '.tasks', 'not supported for basevm_type kvm: this collection does not run tasks '
                                        'in running guests (prepare the base VM, or use kvm-auto)')
    elif btype == 'kvm-auto':
        if 'basevm_config_file' in item:
            chk.error(place + '.basevm_config_file', 'only for basevm_type kvm (kvm-auto builds its own image)')
        template = None
        if chk.required(place, item, 'image_name'):
            name = chk.text(place + '.image_name', item['image_name'], _TEMPLATE_RE, 'a virt-builder template name')
            if name is not None and templates is not None:
                template = _check_template(place + '.image_name', name, templates, chk)
                # An alias builds the same image as the template's own name.
                name = template['name'] if template else None
            guest['image_name'] = name
        for key, bounds, unit in (('vcpus', VCPUS_RANGE, ''), ('memory', MEMORY_RANGE, ' MiB')):
            if chk.required(place, item, key):
                guest[key] = chk.integer('%s.%s' % (place, key), item[key], bounds, unit)
        if chk.required(place, item, 'disk_size'):
            try:
                size = parse_size(item['disk_size'])
                guest['disk_size'] = format_size(size)
                if template and template.get('size') and size < template['size']:
                    chk.error(place + '.disk_size', '%s is smaller than the template %s (%s)' % (
                        show(item['disk_size']), template['name'], format_size(template['size'])))
            except ValueError as exc:
                chk.error(place + '.disk_size', '%s' % exc)
        tasks = check_tasks(place, item['tasks'], chk, resolve_file, template) if 'tasks' in item else []
        # after_clone programs and runtime tasks run on each clone after its first boot; the rest
        # shapes the image.
        guest['tasks'] = None if tasks is None else build_time_tasks(tasks)
        guest['after_clone'] = after_boot_tasks(place, tasks)
    if btype == 'kvm':
        for key, bounds, unit in (('vcpus', VCPUS_RANGE, ''), ('memory', MEMORY_RANGE, ' MiB')):
            if item.get(key) is not None:
                guest[key] = chk.integer('%s.%s' % (place, key), item[key], bounds, unit)

    _check_vm_keys(place, item, guest, chk)
    if len(chk.errors) != errors_before or btype is None or not guest.get('id'):
        return None
    return guest


def template_catalog(templates):
    """The templates to check image_name against, as find_template entries; None: not checked.

    ``templates``: the entries of kvm_auto_template_info (or of parse_template_list:
    name, arch, osinfo, aliases, size), the decoded JSON of ``virt-builder --list
    --list-format json`` or its ``templates`` list, a mapping of names to sizes in
    bytes, or a list of names.  Templates known by name only have arch and osinfo None.
    """
    if templates is None:
        return None
    if isinstance(templates, Mapping) and isinstance(templates.get('templates'), list):
        templates = templates['templates']
    elif isinstance(templates, Mapping):
        return [_template_entry({'name': name, 'size': size}) for name, size in templates.items()]
    entries = []
    for item in templates:
        if isinstance(item, Mapping) and 'os-version' in item:
            entries.extend(parse_template_list({'templates': [dict(item)]})['templates'])
        else:
            entries.append(_template_entry(item if isinstance(item, Mapping) else {'name': item}))
    return entries


def _template_entry(item):
    return {'name': '%s' % item['name'], 'arch': item.get('arch'), 'size': item.get('size'),
            'osinfo': item.get('osinfo'), 'full_name': item.get('full_name'),
            'aliases': ['%s' % a for a in item.get('aliases') or ()], 'hidden': bool(item.get('hidden', False))}


def _check_template(place, name, catalog, chk):
    """The template entry of ``name`` (a name or an alias), or None after recording the error."""
    try:
        return find_template({'templates': catalog}, name, DEFAULT_ARCH)
    except TemplateError as exc:
        known = exc.known
        if known is None:
            chk.error(place, str(exc))  # the template exists, but not for the arch kvm_auto_image builds
        else:
            chk.error(place, '%s is not a template of the configured virt-builder repository (known: %s)' % (
                show(name), ', '.join(known[:12]) + (', ...' if len(known) > 12 else '') if known else 'none'))
        return None


def _check_vm_keys(place, item, guest, chk):
    """The keys that shape the domain (not the disk), common to kvm and kvm-auto guests."""
    if item.get('graphics_type') is not None:
        guest['graphics_type'] = chk.choice(place + '.graphics_type', item['graphics_type'], GRAPHICS_TYPES)
    if item.get('graphics_port') is not None:
        guest['graphics_port'] = chk.integer(place + '.graphics_port', item['graphics_port'], GRAPHICS_PORT_RANGE)
    if item.get('graphics_listen') is not None:
        guest['graphics_listen'] = chk.text(place + '.graphics_listen', item['graphics_listen'], _IP_RE, 'an IP address')
    if item.get('console_type') is not None:
        guest['console_type'] = chk.choice(place + '.console_type', item['console_type'], CONSOLE_TYPES)
    if item.get('network_model') is not None:
        guest['network_model'] = chk.choice(place + '.network_model', item['network_model'], NETWORK_MODELS)
    if item.get('os_variant') is not None:
        guest['os_variant'] = chk.text(place + '.os_variant', item['os_variant'], _OSINFO_RE, 'an osinfo name such as debian11')
    if item.get('basevm_os_type') is not None:
        guest['basevm_os_type'] = chk.text(place + '.basevm_os_type', item['basevm_os_type'], _OSINFO_RE, 'an OS type such as ubuntu_20')
    if item.get('ip_addr') is not None:
        guest['ip_addr'] = chk.text(place + '.ip_addr', item['ip_addr'], _IPV4_RE, 'an IPv4 address')
    for key in ('boot_options', 'cpu_model'):
        if item.get(key) is not None:
            guest[key] = chk.text('%s.%s' % (place, key), item[key], _OPTION_TEXT_RE, 'a virt-install option value')
    if item.get('extra_args') is not None:
        guest['extra_args'] = _check_extra_args(place + '.extra_args', item['extra_args'], chk)
    if guest.get('graphics_type') == 'none' and (guest.get('graphics_port') or guest.get('graphics_listen')):
        chk.error(place + '.graphics_port', 'graphics_type none takes no port or listen address')


def check_guests(raw, host_ids, chk, templates, resolve_file):
    """Validated guests; ``templates`` in any form template_catalog reads."""
    templates = template_catalog(templates)
    guests = []
    items = chk.sequence('guest_settings', raw)
    if items is None:
        return guests
    seen = {}
    for pos, item in enumerate(items):
        guest = check_guest(pos, item, host_ids, chk, templates, resolve_file)
        ident = item.get('id') if isinstance(item, Mapping) else None
        if isinstance(ident, _TEXT_TYPES + (int,)):
            ident = '%s' % ident
            if ident in seen:
                chk.error('guest_settings[%d] (id=%s).id' % (pos, ident),
                          '%s is already the id of guest_settings[%d]' % (show(ident), seen[ident]))
                continue
            seen[ident] = pos
        if guest is not None:
            guest['pos'] = pos
            guests.append(guest)
    return guests


def declared_ids(raw):
    """Every id written in a host_settings or guest_settings list, valid or not (None: no list)."""
    if not isinstance(raw, list):
        return None
    return ['%s' % item['id'] for item in raw
            if isinstance(item, Mapping) and isinstance(item.get('id'), _TEXT_TYPES + (int,))
            and not isinstance(item.get('id'), bool)]
