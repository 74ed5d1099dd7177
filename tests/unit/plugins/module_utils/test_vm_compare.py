# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_compare import (
    current_view, desired_view, differences, kept_macs, plan_actions, reset_actions, reset_diff, restart_required)

DISK = '/var/lib/libvirt/images/g.qcow2'

DESIRED = {
    'vcpus': 2, 'memory': 2048, 'disk': DISK, 'autostart': False,
    'interfaces': [{'network': 'office', 'model': 'virtio', 'mac': None},
                   {'bridge': 'br0', 'model': 'e1000', 'mac': '52:54:00:00:00:02'}],
    'graphics': {'type': 'vnc', 'port': None, 'listen': '127.0.0.1'},
}

UNSET = dict((field, None) for field in DESIRED)

CURRENT = {
    'uuid': 'u', 'state': 'running', 'vcpus': 2, 'memory': 2048, 'disks': [DISK], 'autostart': False,
    'interfaces': [{'network': 'office', 'model': 'virtio', 'mac': '52:54:00:00:00:01'},
                   {'bridge': 'br0', 'model': 'e1000', 'mac': '52:54:00:00:00:02'}],
    'graphics': {'type': 'vnc', 'port': None, 'listen': '127.0.0.1'},
}


def changed(base, path, value):
    """Copy of ``base`` with the item at ``path`` (tuple of keys/indexes) set to ``value``."""
    data = copy.deepcopy(base)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize('desired, current, expected', [
    (DESIRED, CURRENT, []),
    # a MAC left unset matches whatever libvirt chose
    (DESIRED, changed(CURRENT, ('interfaces', 0, 'mac'), '52:54:00:aa:bb:cc'), []),
    # a fixed port the user did not ask about is not drift
    (DESIRED, changed(CURRENT, ('graphics', 'port'), 5905), []),
    (DESIRED, changed(CURRENT, ('memory',), 1024), ['memory']),
    (DESIRED, changed(CURRENT, ('vcpus',), 1), ['vcpus']),
    (DESIRED, changed(CURRENT, ('interfaces', 1, 'mac'), '52:54:00:00:00:09'), ['interfaces']),
    (DESIRED, changed(CURRENT, ('interfaces', 0, 'model'), 'e1000'), ['interfaces']),
    (DESIRED, changed(CURRENT, ('interfaces', 0), {'network': 'lab', 'model': 'virtio', 'mac': None}), ['interfaces']),
    (DESIRED, changed(CURRENT, ('interfaces', 0), {'bridge': 'office', 'model': 'virtio', 'mac': None}), ['interfaces']),
    (DESIRED, changed(CURRENT, ('interfaces',), CURRENT['interfaces'][:1]), ['interfaces']),
    (DESIRED, changed(CURRENT, ('graphics', 'listen'), '0.0.0.0'), ['graphics']),
    (DESIRED, changed(CURRENT, ('graphics',), {'type': 'none', 'port': None, 'listen': None}), ['graphics']),
    (changed(DESIRED, ('graphics', 'port'), 5901), CURRENT, ['graphics']),
    (DESIRED, changed(CURRENT, ('disks',), ['/elsewhere/g.qcow2']), ['disk']),
    (DESIRED, changed(CURRENT, ('disks',), []), ['disk']),
    (DESIRED, changed(CURRENT, ('autostart',), True), ['autostart']),
    (changed(DESIRED, ('memory',), 4096), changed(CURRENT, ('autostart',), True), ['memory', 'autostart']),
    # settings left unset are never drift
    (UNSET, changed(CURRENT, ('memory',), 1024), []),
    (dict(UNSET, memory=2048), changed(CURRENT, ('memory',), 1024), ['memory']),
    (dict(UNSET, autostart=False), changed(CURRENT, ('autostart',), True), ['autostart']),
    (UNSET, changed(CURRENT, ('disks',), ['/elsewhere/g.qcow2']), []),
])
def test_differences(desired, current, expected):
    assert differences(desired, current) == expected


def test_kept_macs_prefers_user_then_defined_nic():
    desired = changed(DESIRED, ('interfaces',), DESIRED['interfaces'] + [{'network': 'x', 'model': 'virtio', 'mac': None}])
    assert kept_macs(desired, CURRENT) == ['52:54:00:00:00:01', '52:54:00:00:00:02', None]
    assert kept_macs(DESIRED, None) == [None, '52:54:00:00:00:02']


def test_views():
    before = current_view(CURRENT)
    after = desired_view(changed(DESIRED, ('memory',), 4096), CURRENT, 'present')
    assert before['memory'] == 2048 and after['memory'] == 4096
    assert after['state'] == 'running'
    assert after['interfaces'][0] == {'mac': '52:54:00:00:00:01', 'network': 'office', 'model': 'virtio'}
    assert before['interfaces'] == after['interfaces']
    assert current_view(None) == {'state': 'absent'}
    assert desired_view(DESIRED, CURRENT, 'absent') == {'state': 'absent'}
    created = desired_view(DESIRED, None, 'present')
    assert created['state'] == 'stopped'
    assert created['interfaces'][0] == {'network': 'office', 'model': 'virtio'}


STOPPED = dict(CURRENT, state='stopped')
PAUSED = dict(CURRENT, state='paused')


@pytest.mark.parametrize('state, current, fields, recreate, disk_exists, autostart, expected', [
    # absent
    ('absent', None, [], False, False, False, []),
    ('absent', CURRENT, [], False, False, False, ['destroy', 'undefine', 'remove_disks']),
    ('absent', STOPPED, [], False, False, False, ['undefine', 'remove_disks']),
    # creation
    ('running', None, [], False, False, False, ['create_disk', 'define', 'start']),
    ('running', None, [], False, True, True, ['define', 'autostart', 'start']),
    ('present', None, [], False, False, False, ['create_disk', 'define']),
    ('stopped', None, [], False, False, False, ['create_disk', 'define']),
    # nothing to do
    ('running', CURRENT, [], False, True, False, []),
    ('present', STOPPED, [], False, True, False, []),
    ('stopped', STOPPED, [], False, True, False, []),
    # run state only
    ('running', STOPPED, [], False, True, False, ['start']),
    ('running', PAUSED, [], False, True, False, ['resume']),
    ('stopped', CURRENT, [], False, True, False, ['stop']),
    ('stopped', PAUSED, [], False, True, False, ['stop']),
    # drift, in place
    ('running', CURRENT, ['memory'], False, True, False, ['redefine']),
    ('running', STOPPED, ['memory', 'autostart'], False, True, True, ['redefine', 'autostart', 'start']),
    ('stopped', CURRENT, ['vcpus'], False, True, False, ['redefine', 'stop']),
    ('running', CURRENT, ['autostart'], True, True, True, ['autostart']),
    ('running', CURRENT, ['disk'], False, False, False, ['create_disk', 'redefine']),
    # drift, recreated
    ('running', CURRENT, ['memory'], True, True, False, ['destroy', 'undefine', 'define', 'start']),
    ('present', CURRENT, ['memory'], True, True, True, ['destroy', 'undefine', 'define', 'autostart', 'start']),
    ('present', STOPPED, ['memory'], True, True, False, ['undefine', 'define']),
    ('stopped', CURRENT, ['graphics'], True, True, False, ['destroy', 'undefine', 'define']),
])
def test_plan_actions(state, current, fields, recreate, disk_exists, autostart, expected):
    assert plan_actions(state, current, fields, recreate, disk_exists, autostart) == expected


@pytest.mark.parametrize('actions, current, expected', [
    (['redefine'], CURRENT, True),
    (['redefine'], PAUSED, True),
    (['redefine', 'start'], STOPPED, False),
    (['redefine', 'stop'], CURRENT, False),
    (['destroy', 'undefine', 'define', 'start'], CURRENT, False),
    (['autostart'], CURRENT, False),
    (['create_disk', 'define', 'start'], None, False),
])
def test_restart_required(actions, current, expected):
    assert restart_required(actions, current) is expected


ACCESS = {'port': 60001, 'listen': '0.0.0.0', 'guest_port': 22, 'mac': '52:54:00:ac:00:01', 'subnet': '100.127.255.0/24'}
WITH_ACCESS = dict(CURRENT, access=dict(ACCESS, bus='pci.0', slot=30))


@pytest.mark.parametrize('desired, current, expected', [
    # the PCI placement is libvirt's business, not drift
    (dict(UNSET, access=ACCESS), WITH_ACCESS, []),
    (dict(UNSET, access=dict(ACCESS, port=60002)), WITH_ACCESS, ['access']),
    (dict(UNSET, access=dict(ACCESS, listen='192.0.2.1')), WITH_ACCESS, ['access']),
    (dict(UNSET, access=ACCESS), CURRENT, ['access']),
    (dict(UNSET, access=ACCESS), dict(CURRENT, access=None), ['access']),
    # not asked for: kept, whatever the domain has
    (UNSET, WITH_ACCESS, []),
])
def test_differences_access(desired, current, expected):
    assert differences(desired, current) == expected


@pytest.mark.parametrize('state, current, fields, expected', [
    # the host port is QEMU's: a running guest restarts to move it
    ('running', WITH_ACCESS, ['access'], ['redefine', 'stop', 'start']),
    ('present', WITH_ACCESS, ['access', 'memory'], ['redefine', 'stop', 'start']),
    ('running', PAUSED, ['access'], ['redefine', 'stop', 'start']),
    ('running', STOPPED, ['access'], ['redefine', 'start']),
    ('present', STOPPED, ['access'], ['redefine']),
    ('stopped', WITH_ACCESS, ['access'], ['redefine', 'stop']),
])
def test_plan_actions_access_change_restarts(state, current, fields, expected):
    actions = plan_actions(state, current, fields, False, True, False)
    assert actions == expected
    assert restart_required(actions, current) is False


@pytest.mark.parametrize('current, fields, recreate, disk_exists, expected', [
    (CURRENT, [], False, True, ['destroy', 'recreate_disk', 'start']),
    (STOPPED, [], False, True, ['recreate_disk', 'start']),
    (PAUSED, [], False, True, ['destroy', 'recreate_disk', 'start']),
    # other differences first, as state=running would apply them, but with the guest off
    (CURRENT, ['memory', 'autostart'], False, True, ['destroy', 'redefine', 'autostart', 'recreate_disk', 'start']),
    (CURRENT, ['access'], False, True, ['destroy', 'redefine', 'recreate_disk', 'start']),
    (CURRENT, ['memory'], True, True, ['destroy', 'undefine', 'define', 'recreate_disk', 'start']),
    # a disk made anew elsewhere is fresh already
    (CURRENT, ['disk'], False, False, ['destroy', 'create_disk', 'redefine', 'start']),
])
def test_plan_actions_reset(current, fields, recreate, disk_exists, expected):
    actions = plan_actions('reset', current, fields, recreate, disk_exists, False)
    assert actions == expected
    assert reset_actions(plan_actions('running', current, fields, recreate, disk_exists, False), current) == expected
    assert restart_required(actions, current) is False


def test_reset_diff_and_view():
    diff = {'before': current_view(CURRENT), 'after': desired_view(DESIRED, CURRENT, 'reset')}
    shown = reset_diff(diff, '/base.qcow2')
    assert shown['after']['state'] == 'running'
    assert shown['before']['disk_content'] == 'as the guest left it'
    assert shown['after']['disk_content'] == 'a new overlay on /base.qcow2'
    assert 'disk_content' not in diff['after']


HASH = '$6$saltsalt$' + 'a' * 86
IDENTITY = 'kvm-auto-identity 1\nhostname desktop\ntrainee trainee01 %s sudo\n' % HASH


def test_views_never_show_the_trainee_hash():
    current = dict(WITH_ACCESS, identity=IDENTITY)
    before = current_view(current)
    after = desired_view(dict(DESIRED, identity=IDENTITY, access=ACCESS), current, 'running')
    for view in (before, after):
        assert HASH not in repr(view)
        assert 'trainee trainee01 ' in view['identity']
        assert view['access'] == ACCESS
