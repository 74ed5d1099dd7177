# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Whether a range fits its KVM hosts: what each host has, what its guests need there, and the shortfalls.

Per inventory host, before any change:

* memory: the ``memory`` of the range's guests there that are not running yet, against the
  host's MemAvailable (/proc/meminfo);
* the image directory: each base image the host needs and holds in no version yet, at the
  size of its build on the controller when that exists (what a copy writes at most), else at
  its ``disk_size`` plus the most qcow2 metadata for it (a qcow2 file holds no more data than
  its virtual size);
* the guest disk directory: ``overlay_allowance`` bytes per guest not defined there yet;
* free space: what non-root users may still write (``stat -f`` %a blocks, as df's Available),
  of each directory or its nearest existing parent; the two directories count together when
  they are on one file system (same device id).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import posixpath

from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_requirements import RUNNING_CHECK
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_images import host_image_pattern
from ansible_collections.cyris.kvm_auto.plugins.module_utils._sizes import parse_size

MEMORY_CHECK = 'memory'
DEFINED_CHECK = 'defined guests'
HELD_CHECK = 'held images'
DEVICE_CHECK = 'directory devices'
FREE_CHECK = 'free space'
BUILT_CHECK = 'built images'
# The builds are on the controller, which the role reaches as localhost.
CONTROLLER = 'localhost'
OVERRIDE = 'kvm_auto_range_capacity_check: false'
ALLOWANCE_VARIABLE = 'kvm_auto_range_overlay_allowance'
MIB = 1024 * 1024


def parent_chain(path):
    """``path`` and each of its parents up to ``/``: the first that exists holds what will be written there."""
    chain = [posixpath.normpath(path)]
    while chain[-1] != '/':
        chain.append(posixpath.dirname(chain[-1]))
    return chain


def image_estimate(disk_size):
    """The most bytes a qcow2 file of virtual size ``disk_size`` (``20G``) takes.

    With 64 KiB clusters its L2 and refcount tables take under 1/4096 of the virtual size,
    and the header and L1 table fit in 1 MiB.
    """
    size = parse_size(disk_size)
    return size + size // 4096 + MIB


def _check(host, what, argv):
    return {'inventory_host': host, 'what': what, 'argv': argv, 'capacity': True}


def capacity_checks(layout, images, uri, build_dir):
    """The commands that show what each used host of ``layout`` has, and the sizes of the builds.

    ``layout``: the plan's hosts (``host_layout``); ``images``: the plan's images.
    """
    checks = []
    for host in _machines(layout):
        name = host['inventory_host']
        dirs = []
        for path in parent_chain(host['image_dir']) + parent_chain(host['disk_dir']):
            if path not in dirs:
                dirs.append(path)
        checks.extend([
            _check(name, MEMORY_CHECK, ['cat', '/proc/meminfo']),
            _check(name, RUNNING_CHECK, ['virsh', '--connect', uri, 'list', '--name', '--state-running']),
            _check(name, DEFINED_CHECK, ['virsh', '--connect', uri, 'list', '--all', '--name']),
            _check(name, HELD_CHECK, ['find', host['image_dir'], '-mindepth', '1', '-maxdepth', '1',
                                      '-name', '*.qcow2', '-printf', '%f\\n']),
            # A missing directory makes stat fail (rc 1) and print the others all the same.
            _check(name, DEVICE_CHECK, ['stat', '-c', '%d %n', '--'] + dirs),
            _check(name, FREE_CHECK, ['stat', '-f', '-c', '%a %S %n', '--'] + dirs),
        ])
    if images:
        checks.append(_check(CONTROLLER, BUILT_CHECK, ['stat', '-c', '%s %n', '--'] +
                             [posixpath.join(build_dir, image['name']) for image in images]))
    return checks


def parse_meminfo(text):
    """Bytes of MemAvailable in /proc/meminfo's ``text``; None when it has none."""
    for line in (text or '').splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == 'MemAvailable:' and fields[1].isdigit():
            unit = fields[2].lower() if len(fields) > 2 else 'b'
            return int(fields[1]) * (1024 if unit == 'kb' else 1)
    return None


def parse_numbers(text, count):
    """Path -> the ``count`` integers before it, from stat lines such as ``65024 /var/tmp``.

    The path is the rest of the line, spaces and all; lines that do not start with ``count``
    integers are left out.
    """
    found = {}
    for line in (text or '').splitlines():
        fields = line.split(' ', count)
        if len(fields) == count + 1 and fields[count] and all(f.isdigit() for f in fields[:count]):
            found[fields[count]] = [int(f) for f in fields[:count]]
    return found


def _names(result):
    if not result or result.get('rc') != 0:
        return set()
    return set(line.strip() for line in (result.get('stdout') or '').splitlines() if line.strip())


def _results_by_host(check_results):
    """(inventory host, what) -> result, for the capacity checks (and the running guests) that ran."""
    found = {}
    for result in check_results or ():
        if not isinstance(result, dict) or result.get('skipped') or not isinstance(result.get('item'), dict):
            continue
        found[(result['item']['inventory_host'], result['item']['what'])] = result
    return found


def _nearest(path, numbers):
    """The first of ``path``'s parent chain that ``numbers`` knows, or None."""
    for candidate in parent_chain(path):
        if candidate in numbers:
            return candidate
    return None


def _mib_up(num_bytes):
    return -(-num_bytes // MIB)


def host_capacity(host, vms, images, results, built, allowance):
    """What the range needs on one inventory host and what it has there; (needs, problems).

    ``host``: {inventory_host, ids, image_dir, disk_dir}; ``vms``: the plan's guests on it;
    ``images``: the plan's images by name; ``results``: (host, what) -> check result;
    ``built``: build file name -> bytes; ``allowance``: bytes per new guest overlay.
    ``needs``: {memory, available, disks: [{dirs, need, free, parts}]}.
    """
    name = host['inventory_host']
    problems = []
    running = _names(results.get((name, RUNNING_CHECK)))
    defined = _names(results.get((name, DEFINED_CHECK)))
    held = _names(results.get((name, HELD_CHECK)))
    memory = sum((vm['memory'] or 0) for vm in vms if vm['name'] not in running) * MIB
    meminfo = results.get((name, MEMORY_CHECK)) or {}
    available = parse_meminfo(meminfo.get('stdout')) if meminfo.get('rc') == 0 else None
    if available is None:
        problems.append('cannot read MemAvailable from /proc/meminfo (rc=%s): %s' % (
            meminfo.get('rc'), (meminfo.get('stderr') or meminfo.get('msg') or 'no MemAvailable line').strip()))

    wanted = []
    for vm in vms:
        if vm['basevm_type'] == 'kvm-auto' and vm['image'] not in wanted:
            wanted.append(vm['image'])
    missing = [i for i in wanted if not any(fnmatch.fnmatchcase(f, host_image_pattern(i)) for f in held)]
    image_bytes = sum(built[i] if i in built else image_estimate(images[i]['disk_size']) for i in missing)
    new_guests = len([vm for vm in vms if vm['name'] not in defined])

    devices = parse_numbers((results.get((name, DEVICE_CHECK)) or {}).get('stdout'), 1)
    free = parse_numbers((results.get((name, FREE_CHECK)) or {}).get('stdout'), 2)
    disks = []
    for path, need, part in ((host['image_dir'], image_bytes, '%d base image%s' % (len(missing), _s(len(missing)))),
                             (host['disk_dir'], new_guests * allowance,
                              '%d new guest overlay%s of %d MiB' % (new_guests, _s(new_guests), _mib_up(allowance)))):
        existing = _nearest(path, devices)
        if existing is None or existing not in free:
            problems.append('cannot read the free space of %s or a parent directory with stat' % path)
            continue
        device = devices[existing][0]
        shared = [d for d in disks if d['device'] == device]
        if shared:
            shared[0]['dirs'].append(path)
            shared[0]['need'] += need
            shared[0]['parts'].append(part)
        else:
            blocks, block_size = free[existing]
            disks.append({'device': device, 'dirs': [path], 'need': need, 'free': blocks * block_size, 'parts': [part]})
    return {'memory': memory, 'available': available, 'disks': disks}, problems


def _s(count):
    return '' if count == 1 else 's'


def capacity_problems(plan, check_results, overlay_allowance):
    """One problem per used host the range does not fit, and per host whose capacity cannot be read.

    ``plan``: the range plan (``layout``, ``vms``, ``images``); ``check_results``: the results
    of ``capacity_checks`` (and the other host checks); ``overlay_allowance``: a size such as
    ``1G`` per guest overlay. Returns [{host, what, message}].
    """
    try:
        allowance = parse_size(overlay_allowance)
    except ValueError as exc:
        return [{'host': CONTROLLER, 'what': 'capacity', 'message': '%s: %s' % (ALLOWANCE_VARIABLE, exc)}]
    results = _results_by_host(check_results)
    built_result = results.get((CONTROLLER, BUILT_CHECK)) or {}
    built = dict((posixpath.basename(path), numbers[0])
                 for path, numbers in parse_numbers(built_result.get('stdout'), 1).items())
    images = dict((image['name'], image) for image in plan['images'])
    problems = []
    for host in _machines(plan['layout']):
        name = host['inventory_host']
        label = 'host %s (%s)' % (', '.join(host['ids']), name)
        vms = [vm for vm in plan['vms'] if vm['inventory_host'] == name]
        needs, unread = host_capacity(host, vms, images, results, built, allowance)
        for text in unread:
            problems.append({'host': name, 'what': 'capacity', 'message': '%s: %s' % (label, text)})
        short = []
        if needs['available'] is not None and needs['memory'] > needs['available']:
            short.append('%d MiB of memory, %d MiB is available' % (_mib_up(needs['memory']), needs['available'] // MIB))
        for disk in needs['disks']:
            if disk['need'] > disk['free']:
                short.append('%d MiB of disk in %s (%s%s), %d MiB is free' % (
                    _mib_up(disk['need']), ' and '.join(disk['dirs']), ', '.join(disk['parts']),
                    '; one file system' if len(disk['dirs']) > 1 else '', disk['free'] // MIB))
        if short:
            problems.append({'host': name, 'what': 'capacity', 'message': (
                "%s: the range does not fit: its guests need %s (free memory or disk there, place guests on "
                "another host, or set %s)" % (label, '; '.join(short), OVERRIDE))})
    return problems


def _machines(layout):
    """The used inventory hosts of ``layout``, once each, with every host id they serve."""
    machines = []
    by_name = {}
    for host in layout:
        if not host['used']:
            continue
        if host['inventory_host'] in by_name:
            by_name[host['inventory_host']]['ids'].append(host['id'])
            continue
        entry = {'inventory_host': host['inventory_host'], 'ids': [host['id']],
                 'image_dir': host['image_dir'], 'disk_dir': host['disk_dir']}
        by_name[host['inventory_host']] = entry
        machines.append(entry)
    return machines
