# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The capacity check: what each KVM host has, what the range's guests need there, the shortfalls."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cyris.kvm_auto.plugins.filter.range_plan import range_host_problems
from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_requirements import host_checks, host_problems
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_capacity import (
    BUILT_CHECK, DEFINED_CHECK, DEVICE_CHECK, FREE_CHECK, HELD_CHECK, MEMORY_CHECK, RUNNING_CHECK,
    capacity_checks, capacity_problems, image_estimate, parent_chain, parse_meminfo, parse_numbers)

MIB = 1024 ** 2
GIB = 1024 ** 3
IMAGE = 'kvmauto-debian-12-0123456789ab.qcow2'
HELD = 'kvmauto-debian-12-0123456789ab.c9430cf134efd689.qcow2'
BUILD_DIR = '/var/lib/cyris-kvm-auto/images'
OVERRIDE = ' (free memory or disk there, place guests on another host, or set kvm_auto_range_capacity_check: false)'


def layout_entry(host_id='host_1', inventory_host='kvm1', image_dir='/srv/images', disk_dir='/srv/disks', used=True):
    return {'id': host_id, 'inventory_host': inventory_host, 'image_dir': image_dir, 'disk_dir': disk_dir, 'used': used}


def vm(name, memory=1024, inventory_host='kvm1', image=IMAGE, basevm_type='kvm-auto'):
    return {'name': name, 'memory': memory, 'inventory_host': inventory_host, 'image': image, 'basevm_type': basevm_type}


def plan_of(vms=None, layout=None, disk_size='6G'):
    return {'layout': layout or [layout_entry()],
            'vms': [vm('desktop_cr1_1_1'), vm('server_cr1_1_1')] if vms is None else vms,
            'images': [{'name': IMAGE, 'disk_size': disk_size}]}


def result(what, stdout='', rc=0, host='kvm1', stderr=''):
    return {'item': {'inventory_host': host, 'what': what, 'argv': [], 'capacity': True},
            'rc': rc, 'stdout': stdout, 'stderr': stderr}


def host_results(host='kvm1', available_mib=4096, running=(), defined=(), held=(), dirs=None, built=None):
    """What the checks print on a host; ``dirs``: existing path -> (device id, free bytes)."""
    if dirs is None:
        dirs = {'/': (1, 100 * GIB), '/srv': (1, 100 * GIB), '/srv/images': (1, 100 * GIB), '/srv/disks': (2, 100 * GIB)}
    results = [
        result(MEMORY_CHECK, 'MemTotal:       24683652 kB\nMemAvailable:   %d kB\nSwapTotal: 0 kB\n' % (available_mib * 1024),
               host=host),
        result(RUNNING_CHECK, ''.join(n + '\n' for n in running) + '\n', host=host),
        result(DEFINED_CHECK, ''.join(n + '\n' for n in defined) + '\n', host=host),
        result(HELD_CHECK, ''.join(n + '\n' for n in held), host=host),
        result(DEVICE_CHECK, ''.join('%d %s\n' % (dev, path) for path, (dev, free) in dirs.items()), host=host),
        result(FREE_CHECK, ''.join('%d 4096 %s\n' % (free // 4096, path) for path, (dev, free) in dirs.items()), host=host),
    ]
    if built is not None:
        results.append(result(BUILT_CHECK, ''.join('%d %s/%s\n' % (size, BUILD_DIR, name) for name, size in built.items()),
                              host='localhost'))
    return results


def messages(plan, results, allowance='1G'):
    return [p['message'] for p in capacity_problems(plan, results, allowance)]


@pytest.mark.parametrize('path,chain', [
    ('/var/lib/libvirt/images', ['/var/lib/libvirt/images', '/var/lib/libvirt', '/var/lib', '/var', '/']),
    ('/srv/', ['/srv', '/']),
    ('/', ['/']),
])
def test_parent_chain(path, chain):
    assert parent_chain(path) == chain


@pytest.mark.parametrize('disk_size,estimate', [
    ('6G', 6 * GIB + 6 * GIB // 4096 + MIB),
    ('512M', 512 * MIB + 128 * 1024 + MIB),
])
def test_an_image_not_built_yet_counts_at_its_disk_size_plus_qcow2_metadata(disk_size, estimate):
    assert image_estimate(disk_size) == estimate


@pytest.mark.parametrize('text,available', [
    ('MemTotal:       24683652 kB\nMemFree:  100 kB\nMemAvailable:   23674096 kB\n', 23674096 * 1024),
    ('MemAvailable: 0 kB\n', 0),
    ('MemTotal:       24683652 kB\nMemFree:  100 kB\n', None),  # a kernel before 3.14
    ('MemAvailable: lots\n', None),
    ('', None),
])
def test_parse_meminfo(text, available):
    assert parse_meminfo(text) == available


def test_parse_stat_lines_keeps_spaces_in_paths_and_drops_what_is_not_a_stat_line():
    text = "65024 /var/tmp\n65024 /srv/my images\nstat: cannot statx '/x': No such file or directory\n12 \n"
    assert parse_numbers(text, 1) == {'/var/tmp': [65024], '/srv/my images': [65024]}
    assert parse_numbers('18735519 4096 /var/tmp\n4096 /\n', 2) == {'/var/tmp': [18735519, 4096]}


def test_capacity_checks_once_per_used_machine_and_one_for_the_builds():
    layout = [layout_entry(), layout_entry('host_2'), layout_entry('spare', 'kvm9', used=False)]
    checks = capacity_checks(layout, [{'name': IMAGE}], 'qemu:///system', BUILD_DIR)
    assert [(c['inventory_host'], c['what']) for c in checks] == [
        ('kvm1', MEMORY_CHECK), ('kvm1', RUNNING_CHECK), ('kvm1', DEFINED_CHECK), ('kvm1', HELD_CHECK),
        ('kvm1', DEVICE_CHECK), ('kvm1', FREE_CHECK), ('localhost', BUILT_CHECK)]
    argv = dict((c['what'], c['argv']) for c in checks)
    assert argv[DEVICE_CHECK] == ['stat', '-c', '%d %n', '--', '/srv/images', '/srv', '/', '/srv/disks']
    assert argv[FREE_CHECK] == ['stat', '-f', '-c', '%a %S %n', '--', '/srv/images', '/srv', '/', '/srv/disks']
    assert argv[HELD_CHECK][:2] == ['find', '/srv/images']
    assert argv[DEFINED_CHECK] == ['virsh', '--connect', 'qemu:///system', 'list', '--all', '--name']
    assert argv[BUILT_CHECK] == ['stat', '-c', '%s %n', '--', BUILD_DIR + '/' + IMAGE]
    assert all(c['capacity'] for c in checks)
    assert BUILT_CHECK not in [c['what'] for c in capacity_checks(layout, [], 'qemu:///system', BUILD_DIR)]


def test_host_checks_run_a_check_once_and_host_problems_leave_the_capacity_checks_alone():
    capacity = capacity_checks([layout_entry()], [{'name': IMAGE}], 'qemu:///system', BUILD_DIR)
    checks = host_checks(['kvm1'], 'qemu:///system', 'default', access_hosts={'kvm1'}, capacity=capacity)
    pairs = [(c['inventory_host'], c['what']) for c in checks]
    assert pairs.count(('kvm1', RUNNING_CHECK)) == 1
    assert ('kvm1', MEMORY_CHECK) in pairs and ('localhost', BUILT_CHECK) in pairs
    # A capacity check that fails is the capacity check's to report, not "virsh ... failed".
    failed = [result(DEFINED_CHECK, rc=1, stderr='error: failed to connect to the hypervisor'),
              result(BUILT_CHECK, rc=1, host='localhost', stderr='No such file or directory')]
    assert host_problems(failed, 'default', 'qemu:///system') == []


def disk_message(need_mib, dirs, parts, free_mib):
    return '%d MiB of disk in %s (%s), %d MiB is free' % (need_mib, dirs, parts, free_mib)


ESTIMATE_MIB = -(-image_estimate('6G') // MIB)
SHARED = {'/': (1, 100 * GIB), '/srv': (1, 8 * GIB)}


@pytest.mark.parametrize('plan,results,allowance,expected', [
    # fits: 2 GiB of memory of 4, one image and two overlays of 1G in plenty of space
    (plan_of(), host_results(), '1G', []),
    # memory short
    (plan_of(), host_results(available_mib=1500), '1G',
     ['host host_1 (kvm1): the range does not fit: its guests need 2048 MiB of memory, 1500 MiB is available' + OVERRIDE]),
    # guests already running use their memory already
    (plan_of(), host_results(available_mib=1500, running=['desktop_cr1_1_1']), '1G', []),
    # disk short in the guest disk directory, a file system of its own
    (plan_of(), host_results(), '60G',
     ['host host_1 (kvm1): the range does not fit: its guests need ' +
      disk_message(122880, '/srv/disks', '2 new guest overlays of 61440 MiB', 102400) + OVERRIDE]),
    # guests already defined have their overlays
    (plan_of(), host_results(defined=['desktop_cr1_1_1', 'server_cr1_1_1']), '60G', []),
    # image directory short: the image is not built yet and counts at its disk_size
    (plan_of(disk_size='200G'), host_results(), '1G',
     ['host host_1 (kvm1): the range does not fit: its guests need ' +
      disk_message(-(-image_estimate('200G') // MIB), '/srv/images', '1 base image', 102400) + OVERRIDE]),
    # ... the controller's build gives its real size
    (plan_of(disk_size='200G'), host_results(built={IMAGE: 866 * MIB}), '1G', []),
    # ... and an image the host holds needs no space
    (plan_of(disk_size='200G'), host_results(held=[HELD, 'other.qcow2']), '1G', []),
    # both directories on one file system (missing yet: their parent /srv counts): each fits alone, not both
    (plan_of(), host_results(dirs=SHARED), '2G',
     ['host host_1 (kvm1): the range does not fit: its guests need ' +
      disk_message(ESTIMATE_MIB + 4096, '/srv/images and /srv/disks',
                   '1 base image, 2 new guest overlays of 2048 MiB; one file system', 8192) + OVERRIDE]),
    (plan_of(), host_results(dirs=SHARED), '512M', []),
    # memory and disk short at once: one message with both
    (plan_of(), host_results(available_mib=1000, dirs=SHARED), '2G',
     ['host host_1 (kvm1): the range does not fit: its guests need 2048 MiB of memory, 1000 MiB is available; ' +
      disk_message(ESTIMATE_MIB + 4096, '/srv/images and /srv/disks',
                   '1 base image, 2 new guest overlays of 2048 MiB; one file system', 8192) + OVERRIDE]),
    # a kvm guest without memory takes its base VM's: not known here, and no base image to copy
    (plan_of(vms=[vm('old_cr1_1_1', memory=None, image='/srv/base.qcow2', basevm_type='kvm')]),
     host_results(available_mib=10, dirs=SHARED), '1G', []),
])
def test_capacity_problems(plan, results, allowance, expected):
    assert messages(plan, results, allowance) == expected


def test_two_host_ids_on_one_machine_add_up_and_each_machine_gets_its_own_message():
    layout = [layout_entry(), layout_entry('host_2'), layout_entry('host_3', 'kvm2')]
    vms = [vm('a_cr1_1_1'), vm('a_cr1_2_1'), vm('a_cr1_3_1', inventory_host='kvm2'), vm('b_cr1_3_1', inventory_host='kvm2')]
    results = host_results(available_mib=1500) + host_results('kvm2', available_mib=1000)
    assert messages(plan_of(vms=vms, layout=layout), results) == [
        'host host_1, host_2 (kvm1): the range does not fit: its guests need 2048 MiB of memory, 1500 MiB is available' +
        OVERRIDE,
        'host host_3 (kvm2): the range does not fit: its guests need 2048 MiB of memory, 1000 MiB is available' + OVERRIDE]
    assert [p['host'] for p in capacity_problems(plan_of(vms=vms, layout=layout), results, '1G')] == ['kvm1', 'kvm2']


def test_unreadable_capacity_is_a_problem_not_a_pass():
    results = [r for r in host_results() if r['item']['what'] not in (DEVICE_CHECK, MEMORY_CHECK)]
    results.append(result(MEMORY_CHECK, rc=1, stderr='cat: /proc/meminfo: Permission denied'))
    assert messages(plan_of(), results) == [
        'host host_1 (kvm1): cannot read MemAvailable from /proc/meminfo (rc=1): cat: /proc/meminfo: Permission denied',
        'host host_1 (kvm1): cannot read the free space of /srv/images or a parent directory with stat',
        'host host_1 (kvm1): cannot read the free space of /srv/disks or a parent directory with stat']


@pytest.mark.parametrize('allowance', ['lots', '0G', '', None, '3000T'])
def test_a_bad_overlay_allowance_is_named(allowance):
    found = capacity_problems(plan_of(), host_results(), allowance)
    assert len(found) == 1
    assert found[0]['host'] == 'localhost'
    assert found[0]['message'].startswith('kvm_auto_range_overlay_allowance: ')


@pytest.mark.parametrize('capacity_check,expected', [
    (True, ['host host_1 (kvm1): the range does not fit: its guests need 2048 MiB of memory, 1500 MiB is available' +
            OVERRIDE]),
    # The operator's override: kvm_auto_range_capacity_check false.
    (False, []),
])
def test_the_role_filter_reports_the_capacity_with_the_other_host_problems_unless_overridden(capacity_check, expected):
    settings = {'network': 'default', 'uri': 'qemu:///system'}
    found = range_host_problems(host_results(available_mib=1500), settings, plan=plan_of(),
                                capacity_check=capacity_check, overlay_allowance='1G')
    assert [p['message'] for p in found] == expected
