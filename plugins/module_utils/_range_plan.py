# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Plan a CyRIS range description (pure Python, no I/O).

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

import posixpath
import re

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import Checker, RangeError, plain, show
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_clones import check_clone_settings, check_range_id
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_emulate import attacked, clone_steps
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_entry import (
    DEFAULTS as ENTRY_DEFAULTS, check_settings as check_entry_settings, plan_entry_points, subnet_conflicts)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_images import image_config, image_file_name
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_networks import plan_networks
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_read import split_sections
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_tasks import final_accounts
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_hosts import check_hosts
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_validate import check_guests, declared_ids
from ansible_collections.cyris.kvm_auto.plugins.module_utils._virt_builder import boot_wait_of, osinfo_from_os_type

__all__ = ['RangeError', 'plan_range']

# Domain names are the guests' host names too (see _range_networks.host_name_of): one DNS label.
MAX_NAME_LENGTH = 63
_DOMAIN_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.+-]*$')


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
    kvm_auto = guest['basevm_type'] == 'kvm-auto'
    # A kvm-auto image's own OS comes from its build; a kvm guest's from its CyRIS OS type.
    osinfo = guest.get('os_variant') or (None if kvm_auto else osinfo_from_os_type(guest.get('basevm_os_type')))
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
        'osinfo': osinfo,
        'wait_for': boot_wait_of(osinfo),
        'config_file': guest.get('config_file'),
        # A kvm guest without one takes its base VM's NIC models (see _range_base_vms).
        'network_model': guest.get('network_model', 'virtio' if kvm_auto else None),
        'console': guest.get('console_type', 'pty'),
        'boot': guest.get('boot_options'),
        'cpu_model': guest.get('cpu_model'),
        'extra_args': guest.get('extra_args') or [],
        'graphics': None,
        'image': guest.get('image'),
        'accounts': final_accounts(guest.get('tasks')),
        'after_clone': guest.get('after_clone') or [],
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
    for bpos, block in enumerate(blocks):
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
                                                      show(guest['id']), guest.get('basevm_host'), host))
                        continue
                    for index in range(1, clone['number'] + 1):
                        vm = _vm_entry(guest, clone_name(guest['id'], range_id, instance, index), host,
                                       instance, index, clone['entry_point'])
                        vm['block'] = bpos
                        vms.append(vm)
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
               inventory_host_ids=None, salt=None, base_dir=None, file_digest=None, address_prefix=None,
               entry_settings=None):
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
    content digest of a controller file or directory, or None when it is missing;
    ``address_prefix``: an IPv4 /16 for the topology networks instead of CyRIS's addresses;
    ``entry_settings``: the role's trainee access settings (see _range_entry.DEFAULTS).
    """
    chk = Checker()
    data = plain(data)
    digests = {}

    def resolve_file(place, path):
        if not posixpath.isabs(path):
            if not base_dir:
                chk.error(place, '%s is a relative path; give an absolute path on the controller' % show(path))
                return None
            path = posixpath.normpath(posixpath.join(base_dir, path))
        if file_digest is not None:
            digest = file_digest(path)
            if digest is None:
                chk.error(place, '%s does not exist on the controller' % show(path))
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
    declared_hosts = declared_ids(sections['host_settings']) if 'host_settings' in sections else (
        host_ids if variables else None)
    guests = check_guests(sections.get('guest_settings'), declared_hosts, chk, templates, resolve_file) \
        if 'guest_settings' in sections else []
    by_id = dict((g['id'], g) for g in guests)
    declared_guests = declared_ids(sections.get('guest_settings'))

    blocks = []
    clone_range_id = None
    has_clones = sections.get('clone_settings') is not None
    if has_clones:
        clone_range_id, blocks = check_clone_settings(sections['clone_settings'], declared_hosts, declared_guests, chk)
    given = None
    if range_id is not None and range_id != '':
        given = check_range_id('kvm_auto_range_id', range_id, chk)
    if has_clones and given and clone_range_id and given != clone_range_id:
        chk.error('kvm_auto_range_id', '%s differs from clone_settings range_id %s' % (show(given), show(clone_range_id)))
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
    entry = dict(ENTRY_DEFAULTS, **(entry_settings or {}))
    entry_errors = check_entry_settings(entry) or plan_entry_points(vms, entry)
    for error in entry_errors:
        chk.error('', error)
    networks = []
    if final_range_id and not chk.errors:
        place = 'clone_settings[0] (range_id=%s).range_id' % final_range_id
        networks, errors = plan_networks(final_range_id, blocks, vms, address_prefix, place)
        for error in errors + subnet_conflicts(entry, networks):
            chk.error('', error)
        warnings = []
        for vm in vms:
            # Each clone's after-boot work, now that its addresses and neighbours are known.
            vm['after_clone'], errors, clone_warnings = clone_steps(final_range_id, vm, vms)
            for error in errors:
                chk.error('', error)
            warnings.extend(w for w in clone_warnings if w not in warnings)
        for warning in warnings:
            chk.warn('', warning)
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
    for network in networks:
        network['inventory_host'] = inventory_of[network['host']]
    for image in images.values():
        # The build checks that an image whose guests forward traffic can (iptables).
        image['require_forwarding'] = any(vm['forwarding'] for vm in vms if vm['image'] == image['name'])
        # ... and that an image of entry points or attack targets has an SSH server.
        image['require_ssh'] = any(vm['trainee'] or attacked(by_id[vm['guest']]) for vm in vms
                                   if vm['image'] == image['name'])
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
        'networks': networks,
        'guests': [_guest_summary(g) for g in guests],
        'warnings': chk.scrubbed(chk.warnings),
    }


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


def public_view(plan):
    """``plan`` without the guests' tasks (passwords): images keep only their task types."""
    public = dict(plan)
    public.pop('images_by_name', None)
    public['images'] = []
    for image in plan['images']:
        entry = dict(image)
        entry['task_types'] = [list(task)[0] for task in entry.pop('tasks', None) or ()]
        public['images'].append(entry)
    return public


def summary(plan):
    """One line on what the range holds, for the role to show."""
    hosts = []
    for vm in plan['vms']:
        if vm['inventory_host'] not in hosts:
            hosts.append(vm['inventory_host'])
    return 'range %s: %d guest%s on %d host%s (%s) from %d image%s (%s)' % (
        plan['range_id'], len(plan['vms']), '' if len(plan['vms']) == 1 else 's',
        len(hosts), '' if len(hosts) == 1 else 's', ', '.join(hosts),
        len(plan['images']), '' if len(plan['images']) == 1 else 's', ', '.join(i['name'] for i in plan['images']))
