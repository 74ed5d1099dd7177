# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Read, validate and plan a CyRIS range description (pure Python, no I/O).

``plan_range(data, ...)`` checks the whole description first and raises
``RangeError`` listing every problem at once, each with its place, e.g.
``guest_settings[2] (id=desktop).disk_size: '20X' is not a size such as 20G``.
Password values never appear in a message.

On success it returns the plan as plain data:

* ``hosts``: every host id with the inventory host that serves it;
* ``images``: one entry per distinct image configuration of the kvm-auto
  guests (image_name, disk_size, format, tasks), with a stable file name
  ``kvmauto-<image_name>-<12 hex>.qcow2`` derived from that configuration,
  so reruns and other ranges share the build;
* ``copies``: each (host, image) pair once;
* ``vms``: every domain to create, named ``<guest>_cr<range>_<instance>_<index>``
  for clones, or after the guest id when there are no clone_settings.

Rules worth knowing (also in the role's README section):

* vcpus 1-32; memory 256-32768 MiB inclusive; disk_size ``^[1-9][0-9]*[KMGT]$``.
* The hostname is not baked into images, so that guests of one image
  configuration share one build whatever their names; guests keep the
  template's hostname.
* Instances are numbered across the whole range, in the order of the
  clone_settings host blocks (a comma list of host ids repeats its block on
  each host, each with ``instance_number`` instances), so clone names never
  collide between hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import json
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence

from ansible_collections.cyris.kvm_auto.plugins.module_utils._sizes import format_size, parse_size

_TEXT_TYPES = (str,)

SECTIONS = ('host_settings', 'guest_settings', 'clone_settings')
BASEVM_TYPES = ('kvm', 'kvm-auto', 'aws')
GRAPHICS_TYPES = ('vnc', 'spice', 'sdl', 'none')
CONSOLE_TYPES = ('pty', 'file', 'tcp', 'udp', 'unix')
NETWORK_MODELS = ('virtio', 'e1000', 'rtl8139', 'ne2k_pci')
PACKAGE_MANAGERS = ('apt', 'apt-get', 'yum', 'dnf', 'zypper')
IMAGE_FORMAT = 'qcow2'
VCPUS_RANGE = (1, 32)
MEMORY_RANGE = (256, 32768)
INSTANCE_RANGE = (1, 100)
CLONE_NUMBER_RANGE = (1, 100)
GRAPHICS_PORT_RANGE = (1024, 65535)
MAX_NAME_LENGTH = 64
MASK = '********'

HOST_KEYS = ('id', 'mgmt_addr', 'virbr_addr', 'account')
GUEST_COMMON_KEYS = ('id', 'basevm_type', 'basevm_host', 'basevm_config_file', 'basevm_os_type', 'ip_addr', 'tasks')
GUEST_VM_KEYS = ('vcpus', 'memory', 'graphics_type', 'graphics_port', 'graphics_listen', 'console_type',
                 'network_model', 'os_variant', 'boot_options', 'cpu_model', 'extra_args')
GUEST_IMAGE_KEYS = ('image_name', 'disk_size')
CLONE_KEYS = ('range_id', 'hosts')
CLONE_HOST_KEYS = ('host_id', 'instance_number', 'guests', 'topology')
CLONE_GUEST_KEYS = ('guest_id', 'number', 'entry_point', 'forwarding_rules')

# task type -> (required keys, optional keys); the types kvm_auto_image bakes into images.
TASK_KEYS = {
    'add_account': (('account', 'passwd'), ('full_name',)),
    'modify_account': (('account',), ('new_account', 'new_passwd')),
    'install_package': (('name',), ('package_manager', 'version')),
    'copy_content': (('src', 'dst'), ()),
    'execute_program': (('program', 'interpreter'), ('args', 'execute_time')),
    'firewall_rules': (('rule',), ()),
}
# Types of the CyRIS format that act on a running guest: nothing can bake them into an image.
RUNTIME_TASKS = ('emulate_attack', 'emulate_malware', 'emulate_traffic_capture_file')
SECRET_KEYS = ('passwd', 'new_passwd')

_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$')
# Guest ids also appear in topology members ("desktop.eth0"), so no dots.
_GUEST_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$')
_RANGE_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9-]{0,15}$')
_DOMAIN_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.+-]*$')
_ADDR_RE = re.compile(r'^[A-Za-z0-9_.:-]{1,253}$')
_IPV4_RE = re.compile(r'^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$')
_IP_RE = re.compile(r'^[0-9A-Fa-f.:]{2,45}$')
_POSIX_ACCOUNT_RE = re.compile(r'^[a-z_][a-z0-9_-]{0,30}\$?$')
_TEMPLATE_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
_OSINFO_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
_PACKAGE_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9+._@:~-]{0,127}$')
_OPTION_TEXT_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9,.=:_+-]{0,255}$')
_MEMBER_RE = re.compile(r'^([A-Za-z0-9][A-Za-z0-9_-]*)\.eth([0-9]+)$')
_RULE_KEYS = ('src', 'dst', 'sport', 'dport')


class RangeError(ValueError):
    """A range description that cannot be deployed; ``errors`` lists every problem."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(RangeError, self).__init__(self.message())

    def message(self):
        return 'the range description has %d error%s:\n- %s' % (
            len(self.errors), '' if len(self.errors) == 1 else 's', '\n- '.join(self.errors))


def plain(value):
    """``value`` as plain dict/list/str/int data (Ansible hands over tagged or lazy subclasses)."""
    if isinstance(value, Mapping):
        return dict((plain(k), plain(v)) for k, v in value.items())
    if isinstance(value, _TEXT_TYPES):
        return '%s' % value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Sequence):
        return [plain(v) for v in value]
    return value


def _show(value):
    """A short display of a (non-secret) value for a message."""
    if isinstance(value, _TEXT_TYPES):
        text = value if len(value) <= 200 else value[:197] + '...'
        return "'%s'" % text.replace('\n', '\\n')
    if isinstance(value, Mapping):
        return 'a mapping'
    if isinstance(value, (list, tuple)):
        return 'a list'
    return '%r' % (value,)


def _kind(value):
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, int):
        return 'an integer'
    if isinstance(value, float):
        return 'a number'
    if isinstance(value, _TEXT_TYPES):
        return 'a string'
    if isinstance(value, Mapping):
        return 'a mapping'
    if isinstance(value, (list, tuple)):
        return 'a list'
    if value is None:
        return 'empty (null)'
    return 'a %s' % type(value).__name__


class _Checker:
    """Collects every error with its place; scrubs secrets as a second guard."""

    def __init__(self):
        self.errors = []
        self.warnings = []
        self.secrets = set()

    def error(self, place, text):
        self.errors.append('%s: %s' % (place, text) if place else text)

    def warn(self, place, text):
        self.warnings.append('%s: %s' % (place, text) if place else text)

    def scrubbed(self, messages):
        # Message texts never show secret fields; this also hides a password that happens
        # to equal some other value shown (short ones would mangle every message).
        secrets = sorted((s for s in self.secrets if len(s) >= 4), key=len, reverse=True)
        out = []
        for msg in messages:
            for secret in secrets:
                msg = msg.replace(secret, MASK)
            out.append(msg)
        return out

    def raise_if_errors(self):
        if self.errors:
            raise RangeError(self.scrubbed(self.errors))

    # ---- typed field readers: each returns the value or None after recording an error

    def mapping(self, place, value):
        if not isinstance(value, Mapping):
            self.error(place, 'expected a mapping, got %s' % _kind(value))
            return None
        return value

    def sequence(self, place, value, allow_empty=False):
        if not isinstance(value, list):
            self.error(place, 'expected a list, got %s' % _kind(value))
            return None
        if not value and not allow_empty:
            self.error(place, 'the list is empty')
            return None
        return value

    def unknown_keys(self, place, item, allowed, note=''):
        for key in item:
            if key not in allowed:
                self.error(place, 'unknown key %s%s (known: %s)' % (_show('%s' % key), note, ', '.join(allowed)))

    def required(self, place, item, key):
        if key not in item or item[key] is None or item[key] == '':
            self.error(place, 'missing required key %s' % key)
            return False
        return True

    def text(self, place, value, pattern=None, what=None, secret=False):
        if isinstance(value, bool) or not isinstance(value, _TEXT_TYPES + (int,)):
            self.error(place, 'expected a string, got %s' % _kind(value))
            return None
        value = '%s' % value
        if secret:
            return value
        if pattern is not None and not pattern.match(value):
            self.error(place, '%s is not %s' % (_show(value), what))
            return None
        return value

    def integer(self, place, value, bounds, unit=''):
        number = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, _TEXT_TYPES) and re.match(r'^[0-9]+$', value.strip()):
            number = int(value)
        if number is None:
            self.error(place, '%s is not an integer' % _show(value))
            return None
        if not bounds[0] <= number <= bounds[1]:
            self.error(place, '%d is out of range: %d to %d%s' % (number, bounds[0], bounds[1], unit))
            return None
        return number

    def choice(self, place, value, choices):
        if not isinstance(value, _TEXT_TYPES) or value not in choices:
            self.error(place, '%s is not one of %s' % (_show(value), ', '.join(choices)))
            return None
        return value

    def boolean(self, place, value):
        if isinstance(value, bool):
            return value
        if isinstance(value, _TEXT_TYPES) and value.lower() in ('yes', 'true', 'no', 'false'):
            return value.lower() in ('yes', 'true')
        self.error(place, '%s is not a boolean' % _show(value))
        return None


# ---------------------------------------------------------------- reading

def split_sections(data, chk, variables=False):
    """The three sections of a range in list form or mapping form.

    Returns a dict section -> raw value (missing sections absent).
    """
    sections = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key not in SECTIONS:
                chk.error('', 'unknown top-level key %s (known: %s)' % (_show('%s' % key), ', '.join(SECTIONS)))
            else:
                sections[key] = value
    elif isinstance(data, list):
        for pos, item in enumerate(data):
            place = '[%d]' % pos
            if not isinstance(item, Mapping) or len(item) != 1:
                chk.error(place, 'expected a single-key mapping such as {host_settings: [...]}, got %s' % (
                    _kind(item) if not isinstance(item, Mapping) else 'a mapping with %d keys' % len(item)))
                continue
            key = list(item)[0]
            if key not in SECTIONS:
                chk.error(place, 'unknown section %s (known: %s)' % (_show('%s' % key), ', '.join(SECTIONS)))
            elif key in sections:
                chk.error(place, 'section %s appears twice' % key)
            else:
                sections[key] = item[key]
    else:
        chk.error('', 'a range description is a list of host_settings, guest_settings and clone_settings, '
                      'or a mapping with those keys; got %s' % _kind(data))
        return sections
    if 'guest_settings' not in sections:
        chk.error('', 'missing section guest_settings')
    if 'host_settings' not in sections and not variables:
        chk.error('', 'missing section host_settings')
    return sections


# ---------------------------------------------------------------- hosts

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
                chk.error(place + '.id', '%s is already the id of host_settings[%d]' % (_show(host['id']), seen[host['id']]))
                continue
            seen[host['id']] = pos
        if all(host.get(k) for k in ('id', 'mgmt_addr', 'account')):
            hosts.append(host)
    return hosts


# ---------------------------------------------------------------- tasks

def _check_task_params(place, ttype, params, chk, resolve_file):
    """One task parameter map, normalized (strings only); None when invalid."""
    required, optional = TASK_KEYS[ttype]
    chk.unknown_keys(place, params, required + optional)
    out = {}
    ok = True
    for key in required:
        if not chk.required(place, params, key):
            ok = False
    for key in required + optional:
        if key not in params or params[key] is None:
            continue
        value = params[key]
        fplace = '%s.%s' % (place, key)
        if key in SECRET_KEYS:
            if isinstance(value, bool) or not isinstance(value, _TEXT_TYPES + (int,)):
                chk.error(fplace, 'expected a string, got %s' % _kind(value))
                ok = False
                continue
            value = '%s' % value
            if value == '':
                chk.error(fplace, 'the password is empty')
                ok = False
                continue
            chk.secrets.add(value)
            out[key] = value
            continue
        checked = _check_task_value(fplace, ttype, key, value, chk, resolve_file)
        if checked is None:
            ok = False
        else:
            out[key] = checked
    if ttype == 'modify_account' and ok and not (out.get('new_account') or out.get('new_passwd')):
        chk.error(place, 'modify_account needs new_account or new_passwd')
        ok = False
    return out if ok else None


def _check_task_value(place, ttype, key, value, chk, resolve_file):
    if key in ('account', 'new_account'):
        return chk.text(place, value, _POSIX_ACCOUNT_RE, 'a POSIX account name (lower case, digits, _ -, at most 32)')
    if key == 'full_name':
        text = chk.text(place, value)
        if text is not None and (':' in text or '\n' in text or ',' in text):
            chk.error(place, '%s must not hold : , or a line break (GECOS field)' % _show(text))
            return None
        return text
    if key == 'name' and ttype == 'install_package':
        text = chk.text(place, value)
        if text is None:
            return None
        names = text.split()
        bad = [n for n in names if not _PACKAGE_RE.match(n)]
        if not names or bad:
            chk.error(place, '%s is not a list of package names separated by spaces' % _show(text))
            return None
        return ' '.join(names)
    if key == 'package_manager':
        return chk.choice(place, value, PACKAGE_MANAGERS)
    if key == 'version':
        return chk.text(place, value, _PACKAGE_RE, 'a package version')
    if key == 'execute_time':
        text = chk.choice(place, value, ('before_clone', 'after_clone'))
        if text == 'after_clone':
            chk.error(place, "'after_clone' is not supported: kvm-auto runs programs inside the image before cloning")
            return None
        return text
    if key == 'dst':
        text = chk.text(place, value)
        if text is not None and (not text.startswith('/') or '\n' in text):
            chk.error(place, '%s is not an absolute path in the guest' % _show(text))
            return None
        return text
    if key in ('src', 'rule', 'program'):
        text = chk.text(place, value)
        if text is None:
            return None
        if '\n' in text or '\x00' in text:
            chk.error(place, '%s holds a line break' % _show(text))
            return None
        if key == 'program':
            return text
        return resolve_file(place, text)
    text = chk.text(place, value)
    if text is not None and ('\n' in text or '\x00' in text):
        chk.error(place, '%s holds a line break' % _show(text))
        return None
    return text


def check_tasks(place, raw, chk, resolve_file):
    """Normalized task list ``[{type: [params...]}]`` for a kvm-auto guest; None when invalid."""
    items = chk.sequence(place, raw)
    if items is None:
        return None
    tasks = []
    ok = True
    for pos, item in enumerate(items):
        tplace = '%s[%d]' % (place, pos)
        if not isinstance(item, Mapping) or len(item) != 1:
            chk.error(tplace, 'expected a single-key mapping such as {add_account: [...]}, got %s' % (
                _kind(item) if not isinstance(item, Mapping) else 'a mapping with %d keys' % len(item)))
            ok = False
            continue
        ttype = '%s' % list(item)[0]
        if ttype in RUNTIME_TASKS:
            chk.error(tplace, 'task type %s is not supported by kvm-auto: it acts on a running guest, '
                              'and kvm-auto bakes tasks into the image' % ttype)
            ok = False
            continue
        if ttype not in TASK_KEYS:
            chk.error(tplace, 'unknown task type %s (known: %s)' % (_show(ttype), ', '.join(sorted(TASK_KEYS))))
            ok = False
            continue
        params_list = chk.sequence('%s.%s' % (tplace, ttype), item[ttype])
        if params_list is None:
            ok = False
            continue
        normalized = []
        for ppos, params in enumerate(params_list):
            pplace = '%s.%s[%d]' % (tplace, ttype, ppos)
            if chk.mapping(pplace, params) is None:
                ok = False
                continue
            checked = _check_task_params(pplace, ttype, params, chk, resolve_file)
            if checked is None:
                ok = False
            else:
                normalized.append(checked)
        tasks.append({ttype: normalized})
    return tasks if ok else None


def final_accounts(tasks):
    """Account names that exist in a guest after its tasks (renames applied), in order."""
    accounts = []
    for task in tasks or ():
        for ttype, params_list in task.items():
            for params in params_list:
                if ttype == 'add_account' and params['account'] not in accounts:
                    accounts.append(params['account'])
                elif ttype == 'modify_account' and params.get('new_account'):
                    if params['account'] in accounts:
                        accounts[accounts.index(params['account'])] = params['new_account']
                    elif params['new_account'] not in accounts:
                        accounts.append(params['new_account'])
    return accounts


# ---------------------------------------------------------------- guests

def _check_extra_args(place, value, chk):
    if isinstance(value, _TEXT_TYPES):
        try:
            return shlex.split(value)
        except ValueError as exc:
            chk.error(place, '%s cannot be split into arguments: %s' % (_show(value), exc))
            return None
    if isinstance(value, list) and all(isinstance(v, _TEXT_TYPES) for v in value):
        return ['%s' % v for v in value]
    chk.error(place, 'expected a string or a list of strings, got %s' % _kind(value))
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
                _show(host), ', '.join(host_ids) or 'none'))
        guest['basevm_host'] = host
    if btype == 'kvm':
        chk.required(place, item, 'basevm_host')
        if chk.required(place, item, 'basevm_config_file'):
            path = chk.text(place + '.basevm_config_file', item['basevm_config_file'])
            if path is not None and (not path.startswith('/') or not path.endswith('.xml') or len(path) < 6):
                chk.error(place + '.basevm_config_file', '%s is not an absolute path to a libvirt XML file (*.xml)' % _show(path))
            elif path is not None:
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
        if chk.required(place, item, 'image_name'):
            name = chk.text(place + '.image_name', item['image_name'], _TEMPLATE_RE, 'a virt-builder template name')
            if name is not None and templates is not None and name not in templates:
                known = sorted(templates)
                chk.error(place + '.image_name', '%s is not a template of the configured virt-builder repository '
                                                 '(known: %s)' % (_show(name), ', '.join(known[:12]) + (
                                                     ', ...' if len(known) > 12 else '') if known else 'none'))
                name = None
            guest['image_name'] = name
        for key, bounds, unit in (('vcpus', VCPUS_RANGE, ''), ('memory', MEMORY_RANGE, ' MiB')):
            if chk.required(place, item, key):
                guest[key] = chk.integer('%s.%s' % (place, key), item[key], bounds, unit)
        if chk.required(place, item, 'disk_size'):
            try:
                size = parse_size(item['disk_size'])
                guest['disk_size'] = format_size(size)
                template_size = (templates or {}).get(guest.get('image_name')) if isinstance(templates, Mapping) else None
                if template_size and size < template_size:
                    chk.error(place + '.disk_size', '%s is smaller than the template %s (%s)' % (
                        _show(item['disk_size']), guest['image_name'], format_size(template_size)))
            except ValueError:
                chk.error(place + '.disk_size', '%s is not a size such as 20G' % _show(item['disk_size']))
        if 'tasks' in item:
            guest['tasks'] = check_tasks(place + '.tasks', item['tasks'], chk, resolve_file)
        else:
            guest['tasks'] = []
    if btype == 'kvm':
        for key, bounds, unit in (('vcpus', VCPUS_RANGE, ''), ('memory', MEMORY_RANGE, ' MiB')):
            if item.get(key) is not None:
                guest[key] = chk.integer('%s.%s' % (place, key), item[key], bounds, unit)

    _check_vm_keys(place, item, guest, chk)
    if len(chk.errors) != errors_before or btype is None or not guest.get('id'):
        return None
    return guest


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
                          '%s is already the id of guest_settings[%d]' % (_show(ident), seen[ident]))
                continue
            seen[ident] = pos
        if guest is not None:
            guest['pos'] = pos
            guests.append(guest)
    return guests


# ---------------------------------------------------------------- clone settings

def _check_rule(place, value, networks, chk):
    text = chk.text(place, value)
    if text is None:
        return
    fields = {}
    for token in text.split():
        key, sep, val = token.partition('=')
        if not sep or key not in _RULE_KEYS or not val or key in fields:
            chk.error(place, '%s is not a rule such as "src=office dst=servers.web dport=80"' % _show(text))
            return
        fields[key] = val
    if 'src' not in fields or 'dst' not in fields:
        chk.error(place, '%s needs src= and dst=' % _show(text))
        return
    if networks is not None:
        names = fields['src'].split(',') + [fields['dst'].split('.')[0]]
        for name in names:
            if name not in networks:
                chk.error(place, 'network %s is not in this block\'s topology (known: %s)' % (
                    _show(name), ', '.join(sorted(networks)) or 'none'))


def _check_topology(place, raw, guest_ids, chk):
    """Network names of the block (validated); None when there is no usable topology."""
    items = chk.sequence(place, raw)
    if items is None:
        return None
    names = set()
    for pos, topo in enumerate(items):
        tplace = '%s[%d]' % (place, pos)
        if chk.mapping(tplace, topo) is None:
            continue
        chk.unknown_keys(tplace, topo, ('type', 'networks'))
        if chk.required(tplace, topo, 'type'):
            chk.choice(tplace + '.type', topo['type'], ('custom',))
        if not chk.required(tplace, topo, 'networks'):
            continue
        networks = chk.sequence(tplace + '.networks', topo['networks'])
        for npos, net in enumerate(networks or ()):
            nplace = '%s.networks[%d]' % (tplace, npos)
            if chk.mapping(nplace, net) is None:
                continue
            chk.unknown_keys(nplace, net, ('name', 'members', 'gateway'))
            if chk.required(nplace, net, 'name'):
                name = chk.text(nplace + '.name', net['name'], _GUEST_ID_RE, 'a network name (letters, digits, _ -)')
                if name in names:
                    chk.error(nplace + '.name', '%s appears twice' % _show(name))
                names.add(name)
            members = []
            if chk.required(nplace, net, 'members'):
                text = chk.text(nplace + '.members', net['members'])
                members = [m.strip() for m in (text or '').split(',') if m.strip()]
            if net.get('gateway') is not None:
                members.append(chk.text(nplace + '.gateway', net['gateway']) or '')
            for member in members:
                match = _MEMBER_RE.match(member)
                if not match:
                    chk.error(nplace, '%s is not a member such as desktop.eth0' % _show(member))
                elif match.group(1) not in guest_ids:
                    chk.error(nplace, 'member %s names a guest that is not in this block\'s guests (known: %s)' % (
                        _show(member), ', '.join(sorted(guest_ids)) or 'none'))
    return names


def check_clone_settings(raw, host_ids, guest_ids, chk):
    """(range_id, blocks) where blocks = [{hosts: [ids], instances, guests: [{guest_id, number, entry_point}]}]."""
    items = chk.sequence('clone_settings', raw)
    if items is None:
        return None, []
    if len(items) > 1:
        chk.error('clone_settings', 'holds %d ranges; this collection deploys one range per description '
                                    '(split it into several files)' % len(items))
    place = 'clone_settings[0]'
    first = chk.mapping(place, items[0])
    if first is None:
        return None, []
    rid = first.get('range_id')
    if isinstance(rid, (int,) + _TEXT_TYPES) and not isinstance(rid, bool):
        place = 'clone_settings[0] (range_id=%s)' % rid
    chk.unknown_keys(place, first, CLONE_KEYS)
    range_id = None
    if chk.required(place, first, 'range_id'):
        range_id = check_range_id(place + '.range_id', first['range_id'], chk)
    blocks = []
    if not chk.required(place, first, 'hosts'):
        return range_id, blocks
    for hpos, block in enumerate(chk.sequence(place + '.hosts', first['hosts']) or ()):
        bplace = '%s.hosts[%d]' % (place, hpos)
        if chk.mapping(bplace, block) is None:
            continue
        chk.unknown_keys(bplace, block, CLONE_HOST_KEYS)
        entry = {'hosts': [], 'instances': None, 'guests': []}
        if chk.required(bplace, block, 'host_id'):
            text = chk.text(bplace + '.host_id', block['host_id'])
            for hid in [h.strip() for h in (text or '').split(',')]:
                if host_ids is not None and hid not in host_ids:
                    chk.error(bplace + '.host_id', '%s is not a host id in host_settings (known: %s)' % (
                        _show(hid), ', '.join(host_ids) or 'none'))
                elif hid in entry['hosts']:
                    chk.error(bplace + '.host_id', '%s is listed twice' % _show(hid))
                else:
                    entry['hosts'].append(hid)
        if chk.required(bplace, block, 'instance_number'):
            entry['instances'] = chk.integer(bplace + '.instance_number', block['instance_number'], INSTANCE_RANGE)
        block_guest_ids = set()
        entry_points = []
        if chk.required(bplace, block, 'guests'):
            for gpos, cguest in enumerate(chk.sequence(bplace + '.guests', block['guests']) or ()):
                gplace = '%s.guests[%d]' % (bplace, gpos)
                if chk.mapping(gplace, cguest) is None:
                    continue
                chk.unknown_keys(gplace, cguest, CLONE_GUEST_KEYS)
                clone = {}
                if chk.required(gplace, cguest, 'guest_id'):
                    gid = chk.text(gplace + '.guest_id', cguest['guest_id'])
                    if gid is not None and guest_ids is not None and gid not in guest_ids:
                        chk.error(gplace + '.guest_id', '%s is not a guest id in guest_settings (known: %s)' % (
                            _show(gid), ', '.join(sorted(guest_ids)) or 'none'))
                        gid = None
                    elif gid in block_guest_ids:
                        chk.error(gplace + '.guest_id', '%s is listed twice in this block' % _show(gid))
                        gid = None
                    clone['guest_id'] = gid
                    if gid:
                        block_guest_ids.add(gid)
                if chk.required(gplace, cguest, 'number'):
                    clone['number'] = chk.integer(gplace + '.number', cguest['number'], CLONE_NUMBER_RANGE)
                clone['entry_point'] = bool(cguest.get('entry_point') is not None and
                                            chk.boolean(gplace + '.entry_point', cguest['entry_point']))
                if clone['entry_point']:
                    entry_points.append(gplace)
                clone['rules'] = cguest.get('forwarding_rules')
                clone['place'] = gplace
                if clone.get('guest_id') and clone.get('number'):
                    entry['guests'].append(clone)
        if len(entry_points) > 1:
            chk.error(bplace, 'entry_point is set on %d guests (%s); at most one guest per block is the entry point' % (
                len(entry_points), ', '.join(p.rsplit('.', 1)[-1] for p in entry_points)))
        networks = None
        if block.get('topology') is not None:
            networks = _check_topology(bplace + '.topology', block['topology'], block_guest_ids, chk)
            if networks:
                chk.warn(bplace + '.topology', 'topology networks are not built yet: guests attach to one '
                                               'libvirt network (kvm_auto_range_network)')
        for clone in entry['guests']:
            if clone['rules'] is None:
                continue
            for rpos, rule in enumerate(chk.sequence(clone['place'] + '.forwarding_rules', clone['rules']) or ()):
                rplace = '%s.forwarding_rules[%d]' % (clone['place'], rpos)
                if chk.mapping(rplace, rule) is not None:
                    chk.unknown_keys(rplace, rule, ('rule',))
                    if chk.required(rplace, rule, 'rule'):
                        _check_rule(rplace + '.rule', rule['rule'], networks, chk)
        if entry['hosts'] and entry['instances']:
            blocks.append(entry)
    return range_id, blocks


def check_range_id(place, value, chk):
    if isinstance(value, bool):
        chk.error(place, '%s is not a range id' % _show(value))
        return None
    if isinstance(value, int):
        if value < 1:
            chk.error(place, '%d is not a positive integer' % value)
            return None
        return '%d' % value
    return chk.text(place, value, _RANGE_ID_RE, 'a range id (a number, or letters, digits and -, at most 16)')


# ---------------------------------------------------------------- planning

def image_config(guest):
    """What shapes a guest's disk: the image-group key (vcpus/memory/hostname excluded)."""
    return {
        'image_name': guest['image_name'],
        'disk_size': guest['disk_size'],
        'format': IMAGE_FORMAT,
        'tasks': guest['tasks'],
    }


def image_file_name(config, salt=None, digests=None):
    """``kvmauto-<image_name>-<12 hex>.qcow2``: a keyed digest of the image configuration.

    The configuration holds passwords, so with ``salt`` (a per-controller secret) the
    digest is an HMAC and the name reveals nothing about them.  ``digests`` maps the
    controller files the tasks copy to their content digests, so a changed file gives
    a new image.
    """
    material = dict(config)
    if digests:
        material['files'] = dict(digests)
    text = json.dumps(material, sort_keys=True, separators=(',', ':'))
    if salt:
        digest = hmac.new(salt.encode('utf-8'), text.encode('utf-8'), hashlib.sha256).hexdigest()
    else:
        digest = hashlib.sha256(text.encode('utf-8')).hexdigest()
    return 'kvmauto-%s-%s.%s' % (config['image_name'], digest[:12], IMAGE_FORMAT), digest


def host_image_file(name, checksum):
    """The file name of built image ``name`` on the KVM hosts: ``<name stem>.<16 hex of its sha256>.qcow2``.

    Naming the copy after its content means a rebuilt image never replaces the file that
    the overlays of existing guests are based on.  None while the checksum is unknown
    (an image that a check-mode run would build).
    """
    if not checksum:
        return None
    digest = checksum.split(':', 1)[-1]
    if not re.match(r'^[0-9a-f]{64}$', digest):
        raise ValueError('%r is not a sha256 checksum' % (checksum,))
    return '%s.%s.%s' % (_image_stem(name), digest[:16], IMAGE_FORMAT)


def host_image_pattern(name):
    """A shell pattern matching every ``host_image_file`` of image ``name``."""
    return '%s.*.%s' % (_image_stem(name), IMAGE_FORMAT)


def _image_stem(name):
    suffix = '.' + IMAGE_FORMAT
    return name[:-len(suffix)] if name.endswith(suffix) else name


def clone_name(guest_id, range_id, instance, index):
    """The CyRIS clone domain name ``<guest>_cr<range>_<instance>_<index>``."""
    return '%s_cr%s_%d_%d' % (guest_id, range_id, instance, index)


def _resolve_hosts(hosts, inventory_hosts, inventory_host_ids):
    """Map each host id to an inventory host (or one to add)."""
    resolved = []
    by_var = {}
    for name, hid in sorted((inventory_host_ids or {}).items()):
        by_var.setdefault('%s' % hid, name)
    inventory = set(inventory_hosts or ())
    for host in hosts:
        entry = dict(host)
        entry['add_host'] = False
        if host['id'] in by_var:
            entry['inventory_host'] = by_var[host['id']]
        elif host['id'] in inventory:
            entry['inventory_host'] = host['id']
        elif host['mgmt_addr'] == 'localhost':
            # The controller itself: the implicit localhost (local connection).
            entry['inventory_host'] = 'localhost'
        else:
            entry['inventory_host'] = host['id']
            entry['add_host'] = True
        resolved.append(entry)
    return resolved


def _vm_entry(guest, name, host, instance=None, index=None, entry_point=False):
    vm = {
        'name': name,
        'guest': guest['id'],
        'host': host,
        'basevm_type': guest['basevm_type'],
        'instance': instance,
        'index': index,
        'entry_point': entry_point,
        'vcpus': guest.get('vcpus'),
        'memory': guest.get('memory'),
        'osinfo': guest.get('os_variant'),
        'network_model': guest.get('network_model', 'virtio'),
        'console': guest.get('console_type', 'pty'),
        'boot': guest.get('boot_options'),
        'cpu_model': guest.get('cpu_model'),
        'extra_args': guest.get('extra_args') or [],
        'graphics': None,
        'image': guest.get('image'),
        'accounts': final_accounts(guest.get('tasks')),
    }
    gtype = guest.get('graphics_type', 'vnc')
    if gtype != 'none':
        vm['graphics'] = {'type': gtype, 'listen': guest.get('graphics_listen', '127.0.0.1')}
        if guest.get('graphics_port'):
            vm['graphics']['port'] = guest['graphics_port']
    else:
        vm['graphics'] = {'type': 'none'}
    return vm


def _place_vms(guests, hosts, range_id, blocks, has_clone_settings, chk):
    host_ids = [h['id'] for h in hosts]
    by_id = dict((g['id'], g) for g in guests)
    vms = []
    if not has_clone_settings:
        for guest in guests:
            place = 'guest_settings[%d] (id=%s)' % (guest['pos'], guest['id'])
            host = guest.get('basevm_host')
            if host is None:
                if len(host_ids) > 1:
                    chk.error(place + '.basevm_host', 'needed without clone_settings when there are %d hosts' % len(host_ids))
                if len(host_ids) != 1:
                    continue
                host = host_ids[0]
            vms.append(_vm_entry(guest, guest['id'], host))
        return vms
    instance = 0
    used = set()
    for block in blocks:
        for host in block['hosts']:
            for _count in range(block['instances']):
                instance += 1
                for clone in block['guests']:
                    guest = by_id[clone['guest_id']]
                    if guest['basevm_type'] == 'kvm' and guest.get('basevm_host') != host and \
                            (guest['id'], host) not in used:
                        used.add((guest['id'], host))
                        chk.error(clone['place'], 'guest %s is a kvm guest whose base VM is on host %s; '
                                                  'its clones can only run there, not on %s' % (
                                                      _show(guest['id']), guest.get('basevm_host'), host))
                        continue
                    for index in range(1, clone['number'] + 1):
                        vms.append(_vm_entry(guest, clone_name(guest['id'], range_id, instance, index), host,
                                             instance, index, clone['entry_point']))
    placed = set(vm['guest'] for vm in vms)
    for guest in guests:
        if guest['id'] not in placed:
            chk.warn('guest_settings[%d] (id=%s)' % (guest['pos'], guest['id']),
                     'not used by clone_settings: nothing is built or created for it')
    return vms


def _check_names(vms, chk):
    seen = {}
    reported = set()
    for vm in vms:
        name = vm['name']
        if (len(name) > MAX_NAME_LENGTH or not _DOMAIN_NAME_RE.match(name)) and vm['guest'] not in reported:
            # Once per guest: its other clone names share the fault.
            reported.add(vm['guest'])
            chk.error('domain %s' % name, 'not a usable libvirt domain name (letters, digits, _ . + -, at most %d; '
                                          'shorten the guest id or range id)' % MAX_NAME_LENGTH)
        if name in seen:
            chk.error('domain %s' % name, 'generated twice (guest %s and guest %s): rename a guest' % (
                seen[name], vm['guest']))
        seen[name] = vm['guest']


def _check_ports(vms, chk):
    seen = {}
    for vm in vms:
        port = (vm.get('graphics') or {}).get('port')
        if not port:
            continue
        key = (vm['host'], port)
        if key in seen:
            chk.error('guest_settings (id=%s).graphics_port' % vm['guest'],
                      '%d is used by both %s and %s on host %s: drop graphics_port to let libvirt choose' % (
                          port, seen[key], vm['name'], vm['host']))
        else:
            seen[key] = vm['name']


def plan_range(data, variables=False, range_id=None, templates=None, inventory_hosts=(),
               inventory_host_ids=None, salt=None, base_dir=None, file_digest=None):
    """Validate a whole range description and return its plan; raise RangeError listing every error.

    ``data``: the range (list or mapping form, already parsed from YAML).
    ``variables``: the range came from role variables; host_settings may then be
    omitted (the controller, ``localhost``, is the only host).
    ``range_id``: range id when there are no clone_settings (and a check otherwise).
    ``templates``: None (not checked), names of the templates virt-builder offers, or
    a mapping name -> size in bytes.
    ``inventory_hosts`` / ``inventory_host_ids``: inventory host names, and the
    ``kvm_auto_range_host_id`` variable of those that have one.
    ``salt``: per-controller secret for image names; ``base_dir``: directory that
    relative controller paths in tasks are relative to; ``file_digest(path)``:
    content digest of a controller file or directory, or None when it is missing.
    """
    chk = _Checker()
    data = plain(data)
    if isinstance(templates, Mapping):
        templates = dict(('%s' % k, v) for k, v in templates.items())
    elif templates is not None:
        templates = dict(('%s' % k, None) for k in templates)
    digests = {}

    def resolve_file(place, path):
        if not posixpath.isabs(path):
            if not base_dir:
                chk.error(place, '%s is a relative path; give an absolute path on the controller' % _show(path))
                return None
            path = posixpath.normpath(posixpath.join(base_dir, path))
        if file_digest is not None:
            digest = file_digest(path)
            if digest is None:
                chk.error(place, '%s does not exist on the controller' % _show(path))
                return None
            digests[path] = digest
        return path

    sections = split_sections(data, chk, variables)
    if 'host_settings' in sections:
        hosts = check_hosts(sections['host_settings'], chk)
    elif variables:
        hosts = [{'id': 'localhost', 'mgmt_addr': 'localhost', 'account': 'root'}]
    else:
        hosts = []
    host_ids = [h['id'] for h in hosts]
    # References are checked against every declared id, valid or not, so that one broken
    # entry does not also show up as unknown everywhere it is used.
    declared_hosts = _declared_ids(sections['host_settings']) if 'host_settings' in sections else (
        host_ids if variables else None)
    guests = check_guests(sections.get('guest_settings'), declared_hosts, chk, templates, resolve_file) \
        if 'guest_settings' in sections else []
    by_id = dict((g['id'], g) for g in guests)
    declared_guests = _declared_ids(sections.get('guest_settings'))

    blocks = []
    clone_range_id = None
    has_clones = sections.get('clone_settings') is not None
    if has_clones:
        clone_range_id, blocks = check_clone_settings(sections['clone_settings'], declared_hosts, declared_guests, chk)
    given = None
    if range_id is not None and range_id != '':
        given = check_range_id('kvm_auto_range_id', range_id, chk)
    if has_clones and given and clone_range_id and given != clone_range_id:
        chk.error('kvm_auto_range_id', '%s differs from clone_settings range_id %s' % (_show(given), _show(clone_range_id)))
    final_range_id = clone_range_id or given
    if not has_clones and not given and sections:
        chk.error('kvm_auto_range_id', 'needed when the range has no clone_settings (it names the details file)')

    images = {}
    for guest in guests:
        if guest['basevm_type'] != 'kvm-auto':
            guest['image'] = guest['base_disk']
            continue
        config = image_config(guest)
        guest_digests = dict((p, digests[p]) for p in _task_files(guest['tasks']) if p in digests)
        name, digest = image_file_name(config, salt, guest_digests)
        guest['image'] = name
        if name not in images:
            images[name] = dict(config, name=name, key=digest, guests=[], hosts=[])
        images[name]['guests'].append(guest['id'])

    # Blocks and guests that failed validation are left out here; their errors are recorded.
    blocks = [dict(b, hosts=[h for h in b['hosts'] if h in host_ids],
                   guests=[c for c in b['guests'] if c['guest_id'] in by_id]) for b in blocks]
    vms = _place_vms(guests, hosts, final_range_id or '?', blocks, has_clones, chk)
    if final_range_id:
        _check_names(vms, chk)
    _check_ports(vms, chk)
    chk.raise_if_errors()

    resolved = _resolve_hosts(hosts, inventory_hosts, inventory_host_ids)
    inventory_of = dict((h['id'], h['inventory_host']) for h in resolved)
    copies = []
    for vm in vms:
        vm['inventory_host'] = inventory_of[vm['host']]
        if vm['basevm_type'] == 'kvm-auto':
            image = images[vm['image']]
            if vm['host'] not in image['hosts']:
                image['hosts'].append(vm['host'])
                copies.append({'image': image['name'], 'host': vm['host'], 'inventory_host': vm['inventory_host']})
    used_hosts = set(vm['host'] for vm in vms)
    for host in resolved:
        host['vms'] = len([vm for vm in vms if vm['host'] == host['id']])
        host['used'] = host['id'] in used_hosts
    # Images no placed VM needs are not built.
    image_list = [images[name] for name in sorted(images) if images[name]['hosts']]
    return {
        'range_id': final_range_id,
        'hosts': resolved,
        'images': image_list,
        'copies': copies,
        'vms': vms,
        'guests': [_guest_summary(g) for g in guests],
        'warnings': chk.scrubbed(chk.warnings),
    }


def _declared_ids(raw):
    """Every id written in a host_settings or guest_settings list, valid or not (None: no list)."""
    if not isinstance(raw, list):
        return None
    return ['%s' % item['id'] for item in raw
            if isinstance(item, Mapping) and isinstance(item.get('id'), _TEXT_TYPES + (int,))
            and not isinstance(item.get('id'), bool)]


def _task_files(tasks):
    for task in tasks or ():
        for ttype, params_list in task.items():
            for params in params_list:
                if ttype == 'copy_content':
                    yield params['src']
                elif ttype == 'firewall_rules':
                    yield params['rule']


def _guest_summary(guest):
    """What the details file shows of a guest: no tasks, so no passwords."""
    return {
        'id': guest['id'],
        'basevm_type': guest['basevm_type'],
        'image': guest.get('image'),
        'image_name': guest.get('image_name'),
        'accounts': final_accounts(guest.get('tasks')),
    }


def range_details(plan, vm_results=None, addresses=None, images=None):
    """The ``range_details-cr<id>.yml`` content: hosts, guests, domains, MACs, addresses, accounts.

    ``vm_results``: domain name -> result of kvm_auto_vm (uuid, state, interfaces).
    ``addresses``: MAC -> IP address, when a DHCP lease or a fixed address is known.
    ``images``: image file name -> result of kvm_auto_image (checksum).
    """
    vm_results = vm_results or {}
    addresses = dict((('%s' % k).lower(), v) for k, v in (addresses or {}).items())
    images = images or {}
    guests = []
    for guest in plan['guests']:
        entry = dict(guest)
        image = images.get(guest.get('image')) or {}
        if image.get('checksum'):
            entry['image_checksum'] = image['checksum']
        entry['domains'] = []
        for vm in plan['vms']:
            if vm['guest'] != guest['id']:
                continue
            result = vm_results.get(vm['name']) or {}
            domain = {
                'name': vm['name'],
                'guest': vm['guest'],
                'host': vm['host'],
                'inventory_host': vm['inventory_host'],
                'instance': vm['instance'],
                'index': vm['index'],
                'entry_point': vm['entry_point'],
                'state': result.get('state'),
                'uuid': result.get('uuid'),
                'interfaces': [],
            }
            for nic in result.get('interfaces') or ():
                mac = (nic.get('mac') or '').lower()
                iface = {'mac': mac, 'network': nic.get('network') or nic.get('bridge')}
                if addresses.get(mac):
                    iface['address'] = addresses[mac]
                domain['interfaces'].append(iface)
            domain['address'] = next((i['address'] for i in domain['interfaces'] if i.get('address')), None)
            entry['domains'].append(domain)
        guests.append(entry)
    return {
        'range_id': plan['range_id'],
        'hosts': [{'id': h['id'], 'mgmt_addr': h['mgmt_addr'], 'account': h['account'],
                   'inventory_host': h['inventory_host']} for h in plan['hosts'] if h['used']],
        'images': [{'name': i['name'], 'image_name': i['image_name'], 'disk_size': i['disk_size'],
                    'guests': i['guests'], 'hosts': i['hosts'],
                    'checksum': (images.get(i['name']) or {}).get('checksum'),
                    'host_file': host_image_file(i['name'], (images.get(i['name']) or {}).get('checksum'))}
                   for i in plan['images']],
        'guests': guests,
    }
