# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_compare import (
    current_view, desired_view, differences, kept_macs, plan_actions, restart_required)

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
