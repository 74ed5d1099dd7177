# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""What the range role does with a plan, step by step, as data the role's tasks only read.

* ``host_layout``: each KVM host's image and disk directories (host variables win over the
  role's), checked, and whether the host is the controller itself;
* ``deploy_steps``: after the builds, each image's state, each copy's source, destination and
  way (copy, hard link, or nothing yet), and each guest's exact ``kvm_auto_vm`` arguments;
* ``pending_guests``: in check mode, the guests that cannot be looked at yet;
* ``run_report``: what one run did.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_connection import GUEST_URI_HOST_VAR, guest_uri, uri_error
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_base_vms import clone_settings
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import RangeError, show
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_emulate import handed_over
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_images import host_image_file

# The role's variables that a KVM host may set for itself.
HOST_DIR_VARS = ('kvm_auto_range_image_dir', 'kvm_auto_range_disk_dir')


def host_layout(plan, inventory_vars, defaults):
    """The plan's hosts with ``image_dir``, ``disk_dir``, ``local`` (the controller itself) and
    ``guest_uri`` (how the controller reaches the host's guests, see _guest_connection).

    ``inventory_vars``: inventory host -> its variables (those of HOST_DIR_VARS it sets,
    ``ansible_connection``, and those of _guest_connection.SSH_HOST_VARS and GUEST_URI_HOST_VAR);
    ``defaults``: the role's ``image_dir``, ``disk_dir`` and ``uri``.
    Raises RangeError naming every host whose directory is not an absolute path or whose
    GUEST_URI_HOST_VAR is not a URI.
    """
    errors = []
    hosts = []
    for host in plan['hosts']:
        own = inventory_vars.get(host['inventory_host']) or {}
        entry = dict(host)
        for var in HOST_DIR_VARS:
            key = var[len('kvm_auto_range_'):]
            value = own.get(var)
            value = defaults[key] if value is None or value == '' else '%s' % value
            if not posixpath.isabs(value):
                errors.append('host %s: %s: %s is not an absolute path' % (host['inventory_host'], var, show(value)))
            entry[key] = posixpath.normpath(value)
        entry['local'] = own.get('ansible_connection') == 'local' or (
            host['inventory_host'] == 'localhost' and 'ansible_connection' not in own)
        if own.get(GUEST_URI_HOST_VAR):
            problem = uri_error(own[GUEST_URI_HOST_VAR])
            if problem:
                errors.append('host %s: %s: %s' % (host['inventory_host'], GUEST_URI_HOST_VAR, problem))
        entry['guest_uri'] = guest_uri(host['inventory_host'], own, entry['local'], defaults['uri'])
        hosts.append(entry)
    if errors:
        raise RangeError(errors)
    return hosts


def host_dirs(hosts):
    """The directories to create on the used hosts: [{inventory_host, path}], each once."""
    dirs = []
    for host in hosts:
        for path in (host['image_dir'], host['disk_dir']):
            entry = {'inventory_host': host['inventory_host'], 'path': path}
            if host['used'] and entry not in dirs:
                dirs.append(entry)
    return dirs


def _host_of(hosts):
    return dict((h['inventory_host'], h) for h in hosts)


def image_states(plan, build_results):
    """Image name -> {changed, rebuilt, osinfo, checksum, host_file}.

    ``build_results``: what kvm_auto_image returned per image (each with ``item`` holding the
    image name, as the role's loop gives it). An image without a result (a check-mode run before
    the first build) counts as one to build: no checksum, so no host file name yet.
    """
    by_name = {}
    for result in build_results or ():
        name = _result_item(result)
        if name is not None:
            by_name[name] = result
    states = {}
    for image in plan['images']:
        result = by_name.get(image['name'])
        if result is None or result.get('skipped'):
            states[image['name']] = {'changed': True, 'rebuilt': False, 'osinfo': None, 'checksum': None,
                                     'host_file': None}
            continue
        checksum = result.get('checksum')
        states[image['name']] = {
            'changed': bool(result.get('changed')),
            'rebuilt': bool(result.get('rebuilt')),
            'osinfo': result.get('osinfo'),
            'checksum': checksum,
            'host_file': host_image_file(image['name'], checksum),
        }
    return states


def _result_item(result):
    """The loop item a result belongs to: async_status results nest the job's own item."""
    item = result.get('item')
    while isinstance(item, dict) and 'item' in item:
        item = item['item']
    return item if isinstance(item, str) else None


def deploy_steps(plan, hosts, build_results, build_dir, shared_network, link_local=True, same_filesystem=None,
                 access=(), base_vms=()):
    """Copies and guests of the plan, ready for the role to act on.

    ``hosts``: ``host_layout`` of the plan; ``build_dir``: the controller's build directory;
    ``shared_network``: the libvirt network of guests outside any topology;
    ``link_local``: hard-link images into the image directory of a KVM host that is the
    controller, when ``same_filesystem(build_dir, image_dir)`` says they share a file system;
    ``access``: kvm_auto_access's ``access`` (the port of each entry point);
    ``base_vms``: the base VMs of the kvm guests as read on their hosts (_range_base_vms.base_vms).
    """
    bases = dict(((b['guest'], b['inventory_host']), b) for b in base_vms or ())
    ports = dict((a['guest'], a['port']) for a in access or ())
    images = image_states(plan, build_results)
    by_host = _host_of(hosts)
    copies = []
    for copy in plan['copies']:
        host = by_host[copy['inventory_host']]
        host_file = images[copy['image']]['host_file']
        linked = bool(link_local and host['local'] and same_filesystem and same_filesystem(build_dir, host['image_dir']))
        copies.append(dict(
            copy,
            src=posixpath.join(build_dir, copy['image']),
            dest=posixpath.join(host['image_dir'], host_file) if host_file else None,
            checksum=images[copy['image']]['checksum'],
            # A hard link costs no copy and no space; kvm_auto_image replaces an image by renaming
            # a new file into place, never by rewriting it, so the link never changes under a guest.
            way='link' if linked else 'copy',
        ))
    guests = []
    for vm in plan['vms']:
        host = by_host[vm['inventory_host']]
        # plan_image: the image this guest's base is a copy of (None for a kvm guest).
        guests.append(dict(vm_arguments(vm, host, images, shared_network, ports.get(vm['name']),
                                        bases.get((vm['guest'], vm['inventory_host']))),
                           inventory_host=vm['inventory_host'],
                           plan_image=vm['image'] if vm['basevm_type'] == 'kvm-auto' else None))
    return {
        'images': images,
        'copies': [c for c in copies if c['way'] == 'copy'],
        'links': [c for c in copies if c['way'] == 'link'],
        'guests': guests,
        'after_clone': after_clone_steps(plan),
    }


def after_clone_steps(plan, names=None):
    """The guests with after-boot work (all, or those in ``names``), in plan order:
    [{name, inventory_host, programs}], the arguments of kvm_auto_guest_exec for each (capture files
    made here, see _range_emulate.handed_over)."""
    return [{'name': vm['name'], 'inventory_host': vm['inventory_host'], 'programs': handed_over(vm['after_clone'])}
            for vm in plan['vms'] if vm.get('after_clone') and (names is None or vm['name'] in names)]


def vm_arguments(vm, host, images, shared_network, access_port=None, base=None):
    """The exact arguments of kvm_auto_vm for one guest of the plan (guest-specific ones only).

    A guest of a topology gets one NIC per network, in ethN order, with the MAC its address
    names; any other guest one NIC on ``shared_network``. An entry point also gets its access
    NIC on ``access_port`` (its trainee account comes from kvm_auto_access, not from the plan).
    A ``kvm`` guest takes from its base VM (``base``, see _range_base_vms) its disk, and what the
    range leaves unset of vcpus, memory and NIC models, and always its machine and firmware.
    """
    nics = [{'network': nic['network'], 'mac': nic['mac']} for nic in vm['nics']] or [{'network': shared_network}]
    machine = firmware = None
    if vm['basevm_type'] == 'kvm-auto':
        state = images[vm['image']]
        image = posixpath.join(host['image_dir'], state['host_file']) if state['host_file'] else None
        osinfo = vm['osinfo'] or state['osinfo']
        vcpus, memory = vm['vcpus'], vm['memory']
        models = [vm['network_model']] * len(nics)
    else:
        cloned = clone_settings(vm, base, len(nics))
        image, vcpus, memory, models = cloned['image'], cloned['vcpus'], cloned['memory'], cloned['nic_models']
        machine, firmware = cloned['machine'], cloned['firmware']
        osinfo = vm['osinfo']
    args = {
        'name': vm['name'],
        'image': image,
        'disk_dir': host['disk_dir'],
        'vcpus': vcpus,
        'memory': memory,
        'osinfo': osinfo,
        'machine': machine,
        'firmware': firmware,
        'network_model': models[0],
        'graphics': vm['graphics'],
        'console': vm['console'],
        'boot': vm['boot'],
        'cpu_model': vm['cpu_model'],
        'extra_args': vm['extra_args'],
        'networks': [dict(nic, model=model) for nic, model in zip(nics, models)],
        'identity': vm['identity'],
        'access': dict(vm['access'], port=access_port) if vm.get('access') and access_port else None,
        'wait_for': vm.get('wait_for'),
    }
    return args


# The role's settings that every guest of a deploy or a reset gets (kvm_auto_vm's options).
DEPLOY_SETTINGS = ('osinfo_fallback', 'virt_type', 'uri', 'autostart', 'wait_for', 'wait_timeout', 'console_pattern')
RESET_SETTINGS = ('uri', 'wait_for', 'wait_timeout', 'console_pattern')
ABSENT_SETTINGS = ('uri',)
# vm_arguments' keys that are kvm_auto_vm options, and of those the ones left out when unset.
_GUEST_OPTIONS = ('name', 'image', 'disk_dir', 'vcpus', 'memory', 'osinfo', 'machine', 'firmware', 'networks', 'identity',
                  'access', 'graphics', 'console', 'boot', 'cpu_model', 'extra_args')
_LEFT_OUT_WHEN_UNSET = ('vcpus', 'memory', 'osinfo', 'machine', 'firmware', 'access', 'boot', 'cpu_model')


def host_jobs(members):
    """The members of a batch by KVM host, in order: one kvm_auto_vms job each,
    [{inventory_host, name (its guests' names, for its progress lines), members}]."""
    jobs = []
    for host in _unique(m['inventory_host'] for m in members):
        on_host = [m for m in members if m['inventory_host'] == host]
        jobs.append({'inventory_host': host, 'name': ', '.join(m['name'] for m in on_host), 'members': on_host})
    return jobs


def job_guests(job, settings, state='running', accounts=None, skip=()):
    """The ``guests`` of kvm_auto_vms for one of ``host_jobs``: each member's exact kvm_auto_vm options.

    ``state`` ``running`` (a deploy: the plan's arguments of ``vm_arguments`` with DEPLOY_SETTINGS of
    the role's ``settings``, and an entry point's trainee account from ``accounts``, name -> account),
    ``reset`` (name with RESET_SETTINGS) or ``absent`` (a destroy: name and ``disk_dir`` with
    ABSENT_SETTINGS); a member's own ``wait_for`` wins over the role's; the members named in
    ``skip`` are left out.
    """
    guests = []
    for member in job['members']:
        if member['name'] in skip:
            continue
        if state == 'reset':
            guest = dict((key, settings[key]) for key in RESET_SETTINGS)
            guest.update(name=member['name'], state='reset')
        elif state == 'absent':
            guest = dict((key, settings[key]) for key in ABSENT_SETTINGS)
            guest.update(name=member['name'], state='absent', disk_dir=member['disk_dir'])
        else:
            guest = dict((key, settings[key]) for key in DEPLOY_SETTINGS)
            guest.update((key, member[key]) for key in _GUEST_OPTIONS
                         if not (key in _LEFT_OUT_WHEN_UNSET and not member.get(key)))
            guest.update(state='running', disk_mode='overlay')
            if (accounts or {}).get(member['name']):
                guest['trainee'] = accounts[member['name']]
        # A guest's own boot wait (none for a Windows kvm guest) wins over the role's.
        if state != 'absent' and member.get('wait_for'):
            guest['wait_for'] = member['wait_for']
        guests.append(guest)
    return guests


def pending_guests(steps, copy_results=(), link_results=(), check_mode=False, network_results=()):
    """Names of the guests a check-mode run cannot look at: their base image or a network is not there yet.

    ``copy_results`` / ``link_results``: the role's copy and link task results (their ``item`` is
    the copy); a changed one is a file that is not there yet. ``network_results``: the results of
    kvm_auto_network, whose changed ones are networks a check-mode run would create or change.
    """
    if not check_mode:
        return []
    new_networks = set((r['item']['name'], r['item']['inventory_host']) for r in network_results or ()
                       if r.get('changed') and isinstance(r.get('item'), dict))
    missing = set()
    for copy in steps['copies'] + steps['links']:
        if copy['dest'] is None:
            missing.add((copy['image'], copy['inventory_host']))
    for result in list(copy_results or ()) + list(link_results or ()):
        item = result.get('item')
        if isinstance(item, dict) and result.get('changed'):
            for host in [item.get('inventory_host')] + list(item.get('shared_with') or ()):
                missing.add((item.get('image'), host))
    return [g['name'] for g in steps['guests']
            if g['image'] is None or (g['plan_image'], g['inventory_host']) in missing
            or any((nic['network'], g['inventory_host']) in new_networks for nic in g['networks'])]


def changed_items(results, key='name'):
    """``item[key]`` of every changed (and not skipped) loop result, in order."""
    return [r['item'][key] for r in results or ()
            if r.get('changed') and not r.get('skipped') and isinstance(r.get('item'), dict)]


def run_report(plan, build_results=(), copy_results=(), link_results=(), vm_results=()):
    """What this run did: images built, copied (with the bytes each transfer sent, and from where) and linked,
    guests created and changed."""
    def changed_items(results):
        return [r['item'] for r in results or () if r.get('changed') and not r.get('skipped')]
    copied = []
    for result in copy_results or ():
        if result.get('changed') and not result.get('skipped'):
            item = result['item']
            copied.append({'image': item['image'], 'inventory_host': item['inventory_host'],
                           'from': item.get('sender'), 'bytes_sent': result.get('bytes_sent')})
            copied.extend({'image': item['image'], 'inventory_host': host, 'from': 'shared storage', 'bytes_sent': 0}
                          for host in item.get('shared_with') or ())
    return {
        'range_id': plan['range_id'],
        'built': [_result_item(r) for r in build_results or () if r.get('rebuilt')],
        'copied': copied,
        'linked': [{'image': i['image'], 'inventory_host': i['inventory_host']} for i in changed_items(link_results)],
        'created': [r['name'] for r in vm_results or () if r.get('created')],
        'changed_guests': [r['name'] for r in vm_results or () if r.get('changed') and r.get('name')],
    }


def _unique(values):
    out = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def batches(items, size):
    """``items`` in lists of at most ``size``, each with a ``label`` naming its members."""
    size = max(1, int(size))
    items = list(items)
    out = []
    for start in range(0, len(items), size):
        members = items[start:start + size]
        names = [m if isinstance(m, str) else m['name'] for m in members]
        out.append({'label': ', '.join(names), 'members': members})
    return out
