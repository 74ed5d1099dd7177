# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that expose the CyRIS range planner to the cyris.kvm_auto.kvm_auto_range role."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: range_plan
short_description: Validate a CyRIS range description and plan its deployment
version_added: 0.1.0
author:
  - cyris.kvm_auto contributors (@cyris-kvm-auto)
description:
  - Checks a whole CyRIS range description (list form or mapping form) and fails listing every
    error at once, each with its place (for example a bad disk size of the third guest is reported
    at C(guest_settings[2].disk_size), with the guest id, the value and the rule). Password values
    never appear in a message.
  - Returns the plan the C(cyris.kvm_auto.kvm_auto_range) role executes. kvm-auto guests are grouped by the
    configuration that shapes their disk (template, disk size, format, tasks); each group is built
    once, as C(kvmauto-<image_name>-<12 hex>.qcow2), whatever the guests' vcpus or memory.
  - Clones are named C(<guest>_cr<range>_<instance>_<index>); instances are numbered across the
    whole range so names never collide between hosts.
options:
  _input:
    description:
      - The range description, as YAML text or as already parsed data.
    type: raw
    required: true
  public:
    description:
      - Leave the tasks (which hold passwords) out of the returned images, so the result can be shown.
    type: bool
    default: false
  variables:
    description:
      - The description came from role variables; C(host_settings) may then be missing, and the
        controller (C(localhost)) is the only host.
    type: bool
    default: false
  range_id:
    description:
      - Range id when the description has no C(clone_settings); checked against C(range_id) otherwise.
    type: raw
  templates:
    description:
      - Templates the virt-builder repository offers, to check C(image_name) and C(disk_size) against.
      - The JSON text or data of C(virt-builder --list --list-format json), a list of names, or a
        mapping of names to sizes in bytes. When omitted, template names are not checked here.
    type: raw
  inventory_hosts:
    description: Names of the inventory hosts (C(groups['all'])).
    type: list
    elements: str
  inventory_host_ids:
    description: Inventory host name to C(kvm_auto_range_host_id) for the hosts that set that variable.
    type: dict
  salt:
    description:
      - Per-controller secret mixed into image names, so a name reveals nothing about the passwords
        in the image configuration.
    type: str
  base_dir:
    description: Directory that relative controller paths in tasks (copy_content, firewall_rules) are relative to.
    type: path
  check_files:
    description:
      - Check that the controller files the tasks copy exist, and include their content digests in the
        image names (a changed file gives a new image).
    type: bool
    default: true
  missing_files_ok:
    description:
      - With O(check_files), a missing file is not an error (destroy still finds the images of the files
        that exist).
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Plan a range file
  ansible.builtin.set_fact:
    range_plan: "{{ lookup('ansible.builtin.file', 'range.yml') | cyris.kvm_auto.range_plan(public=true) }}"

- name: Show its domain names
  ansible.builtin.debug:
    msg: "{{ range_plan.vms | map(attribute='name') }}"
'''

RETURN = r'''
_value:
  description: The plan.
  type: dict
  contains:
    range_id:
      description: The range id.
      type: str
    hosts:
      description: Hosts of the range with C(inventory_host), C(add_host) (not in the inventory), C(used), C(vms).
      type: list
      elements: dict
    images:
      description:
        - One entry per image to build, with C(name) (file name), C(image_name), C(disk_size), C(format),
          C(tasks) (unless O(public)), C(guests) and C(hosts) that need it.
      type: list
      elements: dict
    copies:
      description: Each (C(image), C(host), C(inventory_host)) pair once.
      type: list
      elements: dict
    vms:
      description: Every domain to create, with its placement and settings.
      type: list
      elements: dict
    guests:
      description: Guest summaries (id, type, image, account names).
      type: list
      elements: dict
    warnings:
      description: Things worth knowing that do not stop the deployment.
      type: list
      elements: str
'''

import hashlib
import json
import os
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import RangeError, plain
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_details import range_details as _range_details
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_images import host_image_file, host_image_pattern
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_plan import plan_range

import yaml

_CHUNK = 1024 * 1024


def _parse(data):
    if not isinstance(data, (str, bytes)):
        return data
    try:
        return yaml.safe_load(to_text(data))
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = ' at line %d column %d' % (mark.line + 1, mark.column + 1) if mark else ''
        problem = getattr(exc, 'problem', None) or 'not valid YAML'
        raise AnsibleFilterError('the range description is not valid YAML%s: %s' % (where, problem)) from exc


def parse_templates(templates):
    """Names (and sizes) of templates from virt-builder's JSON list, a list or a mapping."""
    if templates is None or templates == '':
        return None
    if isinstance(templates, (str, bytes)):
        try:
            templates = json.loads(to_text(templates))
        except ValueError as exc:
            raise AnsibleFilterError('templates: not the JSON of virt-builder --list --list-format json') from exc
    templates = plain(templates)
    if isinstance(templates, dict) and 'templates' in templates:
        found = {}
        for entry in templates['templates'] or ():
            name = entry.get('os-version')
            if name:
                found[name] = entry.get('size')
        return found
    return templates


def file_digest(path):
    """SHA-256 over a controller file's content, or over a directory's names and contents; None when missing."""
    b_path = to_bytes(path, errors='surrogate_or_strict')
    digest = hashlib.sha256()
    if os.path.isfile(b_path):
        _hash_file(digest, b_path)
        return digest.hexdigest()
    if os.path.isdir(b_path):
        for root, dirs, files in os.walk(b_path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, b_path) + b'\0')
                if os.path.isfile(full):
                    _hash_file(digest, full)
        return digest.hexdigest()
    return None


def _hash_file(digest, b_path):
    with open(b_path, 'rb') as handle:
        for block in iter(lambda: handle.read(_CHUNK), b''):
            digest.update(block)


def _tolerant_digest(path):
    # Destroy names images as deploy did, but a file removed since must not stop it.
    return file_digest(path) or 'missing'


def range_plan(data, public=False, variables=False, range_id=None, templates=None, inventory_hosts=None,
               inventory_host_ids=None, salt=None, base_dir=None, check_files=True, missing_files_ok=False):
    """Validate and plan; raise AnsibleFilterError listing every error."""
    digest = None
    if check_files:
        digest = _tolerant_digest if missing_files_ok else file_digest
    try:
        plan = plan_range(
            _parse(data), variables=variables, range_id=None if range_id is None else to_text(range_id),
            templates=parse_templates(templates), inventory_hosts=plain(inventory_hosts or []),
            inventory_host_ids=plain(inventory_host_ids or {}), salt=to_text(salt) if salt else None,
            base_dir=to_text(base_dir) if base_dir else None, file_digest=digest)
    except RangeError as exc:
        raise AnsibleFilterError(exc.message()) from None
    if public:
        for image in plan['images']:
            image['task_types'] = [list(task)[0] for task in image.pop('tasks')]
    return plan


def range_details(plan, vm_results=None, leases=None, image_results=None):
    """The range details file content from the plan and what the modules returned.

    ``vm_results``: kvm_auto_vm results (each with ``name``); ``leases``: texts of
    ``virsh net-dhcp-leases``; ``image_results``: kvm_auto_image results (each with ``path``).
    """
    plan = plain(plan)
    by_name = {}
    for result in plain(vm_results or []):
        if isinstance(result, dict) and result.get('name'):
            by_name[result['name']] = result
    images = {}
    for result in plain(image_results or []):
        if isinstance(result, dict) and result.get('path'):
            images[os.path.basename(result['path'])] = result
    return _range_details(plan, by_name, parse_leases(leases), images)


def range_destroy_targets(plan, recorded=None):
    """What destroy removes: the plan's guests, copies and images, plus those the last deployment's
    details file (``recorded``) lists and the plan no longer has.

    Returns {vms, copies, images, unreachable}; ``vms`` and ``copies`` carry ``inventory_host``, and
    ``unreachable`` names recorded guests whose host the plan no longer knows.
    """
    plan = plain(plan)
    recorded = plain(recorded) if isinstance(recorded, dict) else {}
    known = dict((h['id'], h['inventory_host']) for h in plan['hosts'])
    inventory = set(known.values())
    vms = [{'name': vm['name'], 'inventory_host': vm['inventory_host']} for vm in plan['vms']]
    unreachable = []
    for guest in recorded.get('guests') or ():
        for domain in guest.get('domains') or ():
            entry = {'name': domain.get('name'), 'inventory_host': domain.get('inventory_host')}
            if not entry['name'] or entry in vms:
                continue
            if entry['inventory_host'] in inventory:
                vms.append(entry)
            else:
                unreachable.append('%s on %s' % (entry['name'], entry['inventory_host']))
    copies = [{'image': c['image'], 'inventory_host': c['inventory_host']} for c in plan['copies']]
    images = [i['name'] for i in plan['images']]
    for image in recorded.get('images') or ():
        if image.get('name') and image['name'] not in images:
            images.append(image['name'])
        for host in image.get('hosts') or ():
            entry = {'image': image.get('name'), 'inventory_host': known.get(host)}
            if entry['image'] and entry['inventory_host'] and entry not in copies:
                copies.append(entry)
    return {'vms': vms, 'copies': copies, 'images': images, 'unreachable': unreachable}


def range_host_files(images):
    """Image name -> its file name on the KVM hosts (None while its checksum is unknown).

    ``images``: image name -> what kvm_auto_image returned (its ``checksum``).
    """
    files = {}
    for name, result in plain(images or {}).items():
        try:
            files[name] = host_image_file(name, (result or {}).get('checksum'))
        except ValueError as exc:
            raise AnsibleFilterError('image %s: %s' % (name, exc)) from None
    return files


def range_host_patterns(images):
    """Image name -> a pattern matching every file of that image on the KVM hosts (for destroy)."""
    return dict((name, host_image_pattern(name)) for name in plain(images or []))


def parse_leases(texts):
    """MAC -> IP address from the output of ``virsh net-dhcp-leases`` (one or several texts)."""
    addresses = {}
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    for text in texts or ():
        for line in to_text(text or '').splitlines():
            fields = line.split()
            # Expiry date, time, MAC, protocol, address/prefix, hostname, client id.
            if len(fields) >= 5 and fields[3] in ('ipv4', 'ipv6') and fields[2].count(':') == 5:
                addresses[fields[2].lower()] = fields[4].split('/')[0]
    return addresses


# What provides each tool on a KVM host, per OS family (ansible_os_family).
_PACKAGES = {
    'virt-install': {'Debian': 'virtinst', 'RedHat': 'virt-install', 'Suse': 'virt-install', 'Archlinux': 'virt-install'},
    'qemu-img': {'Debian': 'qemu-utils', 'RedHat': 'qemu-img', 'Suse': 'qemu-tools', 'Archlinux': 'qemu-img'},
    'virsh': {'Debian': 'libvirt-clients', 'RedHat': 'libvirt-client', 'Suse': 'libvirt-client', 'Archlinux': 'libvirt'},
    'libvirtd': {'Debian': 'libvirt-daemon-system', 'RedHat': 'libvirt-daemon-kvm', 'Suse': 'libvirt-daemon',
                 'Archlinux': 'libvirt'},
}
_INSTALLERS = {'Debian': 'apt-get install', 'RedHat': 'dnf install', 'Suse': 'zypper install', 'Archlinux': 'pacman -S'}


def _install_hint(tool, family):
    packages = _PACKAGES[tool]
    if family in packages:
        return '%s %s' % (_INSTALLERS[family], packages[family])
    return 'install %s (Debian/Ubuntu) or %s (Fedora/RHEL)' % (packages['Debian'], packages['RedHat'])


def range_host_problems(check_results, network, uri, os_families=None):
    """What the KVM hosts lack, from the results of the role's host checks.

    Returns a list of {host, what, message}; a message starts with the host and says what
    to install (for the host's OS family when ``os_families`` knows it) or to start.
    """
    problems = []
    families = plain(os_families or {})
    for result in plain(check_results or []):
        if not isinstance(result, dict) or result.get('skipped'):
            continue
        host, check = result['item'][0], result['item'][1]
        what = check['what']
        family = families.get(host)
        err = (result.get('stderr') or result.get('msg') or '').strip()
        rc = result.get('rc')
        # The command module answers rc=2 and "[Errno 2] No such file..." for a missing program.
        missing = rc is None or (rc == 2 and 'No such file' in err)
        message = None
        if what in ('virt-install', 'qemu-img'):
            if rc != 0:
                message = '%s is missing: %s' % (what, _install_hint(what, family))
        elif rc != 0 and missing:
            message = 'virsh is missing: %s' % _install_hint('virsh', family)
        elif rc != 0 and ('connect' in err.lower() or 'socket' in err.lower()):
            message = 'libvirtd is not reachable at %s: %s, then start libvirtd (%s)' % (
                uri, _install_hint('libvirtd', family), err.splitlines()[-1] if err else 'no error text')
        elif rc != 0 and 'network' in err.lower():
            message = ('the libvirt network %s does not exist: define it (virsh net-define) or set '
                       'kvm_auto_range_network' % network)
        elif rc != 0:
            message = 'virsh --connect %s net-info %s failed with rc=%s: %s' % (uri, network, rc, err)
        elif not re.search(r'^Active:\s+yes', result.get('stdout') or '', re.M):
            message = 'the libvirt network %s is not active: start it (virsh net-start %s)' % (network, network)
        if message:
            problems.append({'host': host, 'what': what, 'message': '%s: %s' % (host, message)})
    return problems


class FilterModule:
    """The range planner filters."""

    def filters(self):
        return {
            'range_plan': range_plan,
            'range_details': range_details,
            'range_destroy_targets': range_destroy_targets,
            'range_host_problems': range_host_problems,
            'range_host_files': range_host_files,
            'range_host_patterns': range_host_patterns,
        }
