# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The desired guest of kvm_auto_vm as plain data, and the virt-install command that renders it.

``desired_guest(params)`` validates the module parameters and returns the guest the user
asked for; ``virt_install_argv(guest, ...)`` is the one producer of domain XML
(``virt-install --import --print-xml --dry-run``); ``add_metadata(xml, ...)`` marks the
XML as ours before libvirt defines it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import xml.etree.ElementTree as ET

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import (
    IdentityError, parse_identity, with_trainee)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_access import AccessError, access_view, normalize_access
from ansible_collections.cyris.kvm_auto.plugins.module_utils._runner import MASK
from ansible_collections.cyris.kvm_auto.plugins.module_utils._sizes import parse_size

# Our <metadata> element: marks the domains this collection created and records their disks.
METADATA_NS = 'https://github.com/cyris-kvm-auto/cyris.kvm_auto/vm/1'
METADATA_PREFIX = 'kvmauto'
LIBOSINFO_NS = 'http://libosinfo.org/xmlns/libvirt/domain/1.0'

# Always present, so that wait_for=agent works whenever the guest runs qemu-guest-agent.
AGENT_CHANNEL = 'unix,target.type=virtio,target.name=org.qemu.guest_agent.0'

SYSTEM_CONSOLE_LOG_DIR = '/var/log/libvirt/qemu'
SESSION_CONSOLE_LOG_DIR = '~/.cache/libvirt/qemu/log'

DEFAULT_NETWORK = 'default'
DEFAULT_MODEL = 'virtio'
DEFAULT_DISK_DIR = '/var/lib/libvirt/images'
# What a new domain gets for the options left unset; an existing domain keeps its own.
CREATION_DEFAULTS = {
    'vcpus': 1,
    'memory': 1024,
    'autostart': False,
    'interfaces': [{'network': DEFAULT_NETWORK, 'model': DEFAULT_MODEL, 'mac': None}],
    'graphics': {'type': 'vnc', 'port': None, 'listen': '127.0.0.1'},
}

_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$')
_MAC_RE = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
# virt-install separates sub-options with commas and assigns with '='.
_SUBOPTION_UNSAFE = (',', '=')

ET.register_namespace(METADATA_PREFIX, METADATA_NS)
ET.register_namespace('libosinfo', LIBOSINFO_NS)


class VmError(Exception):
    """An expected failure; its message is shown to the user after the guest name.

    ``context`` holds what fail_json shows beside it (rc, stdout, stderr, cmd of a command).
    """

    def __init__(self, msg, **context):
        super(VmError, self).__init__(msg)
        self.context = context


def guest_disk_path(disk_dir, name):
    """Path of the disk this module creates for guest ``name``."""
    return os.path.join(disk_dir, '%s.qcow2' % name)


def console_log_path(uri, name):
    """Where libvirt (virtlogd) writes the guest's serial console."""
    if uri.rstrip('/').endswith('/session'):
        return os.path.join(os.path.expanduser(SESSION_CONSOLE_LOG_DIR), '%s-console.log' % name)
    return os.path.join(SYSTEM_CONSOLE_LOG_DIR, '%s-console.log' % name)


def _check_suboption(field, value):
    for char in _SUBOPTION_UNSAFE:
        if char in value:
            raise VmError('%s %r must not contain %r (virt-install separates its sub-options with it)' % (field, value, char))


def normalize_interfaces(networks):
    """The NICs asked for: list of {network|bridge, model, mac}; None when not asked."""
    if networks is None:
        return None
    nics = []
    for index, entry in enumerate(networks):
        field = 'networks[%d]' % index
        network, bridge = entry.get('network'), entry.get('bridge')
        if bool(network) == bool(bridge):
            raise VmError('%s must set exactly one of network or bridge, got network=%r bridge=%r' % (field, network, bridge))
        nic = {'network': network} if network else {'bridge': bridge}
        nic['model'] = entry.get('model') or DEFAULT_MODEL
        mac = entry.get('mac')
        if mac is not None:
            mac = mac.strip().lower()
            if not _MAC_RE.match(mac):
                raise VmError('%s.mac %r is not a MAC address such as 52:54:00:12:34:56' % (field, entry.get('mac')))
        nic['mac'] = mac
        for key in ('network', 'bridge', 'model'):
            if nic.get(key):
                _check_suboption('%s.%s' % (field, key), nic[key])
        nics.append(nic)
    return nics


def normalize_graphics(graphics):
    """{type, port, listen}; ``port``/``listen`` are None where the type has none; None when not asked."""
    if graphics is None:
        return None
    graphics = dict(graphics)
    kind = graphics.get('type') or 'vnc'
    if kind in ('none', 'sdl'):
        return {'type': kind, 'port': None, 'listen': None}
    port = graphics.get('port')
    if port is not None and not 1 <= port <= 65535:
        raise VmError('graphics.port %r is not a TCP port (1-65535)' % (port,))
    listen = graphics.get('listen') or '127.0.0.1'
    _check_suboption('graphics.listen', listen)
    return {'type': kind, 'port': port, 'listen': listen}


def desired_guest(params):
    """Validate the module parameters; return the guest asked for as plain data.

    Settings the user left unset are None: they are not compared with a defined domain, and
    ``complete_guest`` fills them in.  Raises VmError naming the field and value at fault.
    """
    name = params['name']
    if not _NAME_RE.match(name or ''):
        raise VmError('name %r must start with a letter or digit and hold only letters, digits, _ . + - (at most 100)' % (name,))
    for field in ('vcpus', 'memory', 'wait_timeout'):
        if params[field] is not None and params[field] < 1:
            raise VmError('%s %r must be at least 1' % (field, params[field]))
    disk_size = None
    if params.get('disk_size') is not None:
        try:
            disk_size = parse_size(params['disk_size'])
        except ValueError as exc:
            raise VmError('disk_size: %s' % exc)
    disk_dir = params['disk_dir']
    if disk_dir is not None:
        if not os.path.isabs(disk_dir):
            raise VmError('disk_dir %r must be an absolute path' % (disk_dir,))
        _check_suboption('disk_dir', disk_dir)
    image = params.get('image')
    if image is not None and not os.path.isabs(image):
        raise VmError('image %r must be an absolute path' % (image,))
    identity = params.get('identity')
    if identity is not None:
        try:
            parse_identity(identity)
        except IdentityError as exc:
            raise VmError('identity: %s' % exc)
    if params.get('trainee') is not None:
        # The module's argument spec makes trainee require identity.
        try:
            identity = with_trainee(identity, dict(params['trainee']))
        except IdentityError as exc:
            # The message quotes the line at fault: never with the hash in it.
            raise VmError('trainee: %s' % str(exc).replace(params['trainee']['password_hash'] or MASK, MASK))
    try:
        access = normalize_access(params.get('access'))
    except AccessError as exc:
        raise VmError(str(exc))
    interfaces = normalize_interfaces(params.get('networks'))
    if access and any(nic['mac'] == access['mac'] for nic in interfaces or []):
        raise VmError('access.mac %s is also the MAC of one of networks; give the access NIC its own' % access['mac'])
    machine = params.get('machine')
    if machine is not None:
        _check_suboption('machine', machine)
    try:
        re.compile(params['console_pattern'])
    except re.error as exc:
        raise VmError('console_pattern %r is not a regular expression: %s' % (params['console_pattern'], exc))
    return {
        'name': name,
        'uri': params['uri'],
        'virt_type': params['virt_type'],
        'vcpus': params['vcpus'],
        'memory': params['memory'],
        'image': image,
        'disk': guest_disk_path(disk_dir, name) if disk_dir else None,
        'disk_dir': disk_dir,
        'disk_mode': params['disk_mode'],
        'disk_size': disk_size,
        'interfaces': interfaces,
        'graphics': normalize_graphics(params.get('graphics')),
        'console': params['console'],
        'boot': params.get('boot'),
        'cpu_model': params.get('cpu_model'),
        'machine': machine,
        'firmware': params.get('firmware'),
        'extra_args': list(params.get('extra_args') or []),
        'autostart': params['autostart'],
        'identity': identity,
        'access': access,
        'console_log': console_log_path(params['uri'], name),
    }


def _defined_nic(nic):
    # A NIC of the defined domain as virt-install can render it again (network/bridge only).
    kind = 'network' if nic.get('network') else 'bridge'
    return {kind: nic[kind], 'model': nic.get('model') or DEFAULT_MODEL, 'mac': nic.get('mac')}


def complete_guest(desired, current):
    """``desired`` with every setting left unset taken from the defined domain ``current``,
    or, for a new domain, from CREATION_DEFAULTS."""
    guest = dict(desired)
    if current is None:
        fill = dict(CREATION_DEFAULTS, disk=guest_disk_path(DEFAULT_DISK_DIR, desired['name']))
    else:
        fill = {
            'vcpus': current['vcpus'],
            'memory': current['memory'],
            'autostart': current['autostart'],
            'interfaces': [_defined_nic(n) for n in current['interfaces'] if n.get('network') or n.get('bridge')],
            'graphics': current['graphics'],
            'disk': current['disks'][0] if current['disks'] else guest_disk_path(DEFAULT_DISK_DIR, desired['name']),
            'identity': current.get('identity'),
            'access': access_view(current.get('access')),
        }
    for key, value in fill.items():
        if guest.get(key) is None:
            guest[key] = value
    if guest['disk_dir'] is None:
        guest['disk_dir'] = os.path.dirname(guest['disk'])
    return guest


def osinfo_list_argv(virt_install):
    """List the OS names this host's osinfo-db knows."""
    return [virt_install, '--osinfo', 'list']


def parse_osinfo_list(text):
    """Set of OS names (ids and their aliases) from ``virt-install --osinfo list``."""
    known = set()
    for line in text.splitlines():
        for word in line.split(','):
            word = word.strip()
            if word:
                known.add(word)
    return known


def resolve_osinfo(requested, fallback, known):
    """(osinfo to use, warning or None) for ``requested`` given the host's ``known`` names."""
    if requested is None:
        return fallback, None
    if requested in known:
        return requested, None
    return fallback, 'osinfo %r is unknown to this host\'s osinfo-db; using osinfo_fallback %r' % (requested, fallback)


def _nic_arg(nic, mac):
    if nic.get('network'):
        parts = ['network=%s' % nic['network']]
    else:
        parts = ['bridge=%s' % nic['bridge']]
    parts.append('model=%s' % nic['model'])
    if mac:
        parts.append('mac=%s' % mac)
    return ','.join(parts)


def _graphics_arg(graphics):
    if graphics['type'] in ('none', 'sdl'):
        return graphics['type']
    parts = [graphics['type']]
    if graphics['listen'] is not None:
        parts.append('listen=%s' % graphics['listen'])
    if graphics['port'] is not None:
        parts.append('port=%d' % graphics['port'])
    return ','.join(parts)


def virt_install_argv(guest, osinfo, virt_install='virt-install', uuid=None, macs=None, own_devices=False):
    """virt-install command that prints the domain XML of ``guest`` without creating anything.

    ``macs`` gives a MAC per NIC where the user left it unset (kept from the domain being
    replaced); ``own_devices`` turns off virt-install's in-use checks, which would otherwise
    reject the disk and MACs that the domain being redefined already holds.
    """
    macs = list(macs or [])
    argv = [
        virt_install, '--connect', guest['uri'], '--name', guest['name'],
        '--import', '--print-xml', '--dry-run', '--noautoconsole',
        '--virt-type', guest['virt_type'], '--osinfo', osinfo,
        '--vcpus', str(guest['vcpus']), '--memory', str(guest['memory']),
        '--disk', 'path=%s,format=qcow2,bus=virtio' % guest['disk'],
    ]
    if guest['interfaces']:
        for index, nic in enumerate(guest['interfaces']):
            mac = nic['mac'] or (macs[index] if index < len(macs) else None)
            argv += ['--network', _nic_arg(nic, mac)]
    else:
        argv += ['--network', 'none']
    argv += [
        '--graphics', _graphics_arg(guest['graphics']),
        '--serial', 'pty,log.file=%s,log.append=off' % guest['console_log'],
        '--console', guest['console'],
        '--channel', AGENT_CHANNEL,
    ]
    if guest.get('machine'):
        argv += ['--machine', guest['machine']]
    # virt-install merges repeated --boot options: the firmware joins any boot order given.
    if guest.get('firmware') == 'efi':
        argv += ['--boot', 'firmware=efi']
    if guest['boot']:
        argv += ['--boot', guest['boot']]
    if guest['cpu_model']:
        argv += ['--cpu', guest['cpu_model']]
    if uuid:
        argv += ['--uuid', uuid]
    if own_devices:
        argv += ['--check', 'path_in_use=off,mac_in_use=off']
    return argv + list(guest['extra_args'])


def metadata_element(image, image_format, osinfo, disks, image_identity=None):
    """Our <metadata> child: the base image (and its size and mtime when the disks were made
    on it), the osinfo used and the disks we created."""
    root = ET.Element('{%s}vm' % METADATA_NS)
    if image:
        attributes = {'path': image, 'format': image_format or ''}
        if image_identity:
            attributes.update(size=str(image_identity['size']), mtime_ns=str(image_identity['mtime_ns']))
        ET.SubElement(root, '{%s}image' % METADATA_NS, attributes)
    if osinfo:
        ET.SubElement(root, '{%s}osinfo' % METADATA_NS, {'id': osinfo})
    for disk in disks:
        ET.SubElement(root, '{%s}disk' % METADATA_NS, {'path': disk['path'], 'mode': disk['mode']})
    return root


def set_metadata(xml, ours):
    """``xml`` (domain XML text) with our metadata ``ours`` (dict as read back) in place."""
    root = ET.fromstring(xml)
    metadata = root.find('metadata')
    if metadata is None:
        metadata = ET.Element('metadata')
        # libvirt keeps <metadata> after name/uuid/title/description.
        position = len([c for c in root if c.tag in ('name', 'uuid', 'genid', 'title', 'description')])
        root.insert(position, metadata)
    for old in metadata.findall('{%s}vm' % METADATA_NS):
        metadata.remove(old)
    metadata.append(metadata_element(ours.get('image'), ours.get('image_format'), ours.get('osinfo'), ours.get('disks', []),
                                     ours.get('image_identity')))
    return ET.tostring(root, encoding='unicode')
