# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._net_compare import (
    compare, differences, plan_actions, restarts, view)

DESIRED = {'name': 'n', 'owner': 'cr1', 'bridge': 'kvr1-1-1', 'stp': 'off', 'delay': '0', 'mtu': None, 'extra': []}
CURRENT = dict(DESIRED, uuid='u', mac='52:54:00:00:00:01', ours={'owner': 'cr1'}, xml='<network/>',
               active=True, autostart=True)


@pytest.mark.parametrize('change, fields', [
    ({}, []),
    ({'bridge': 'kvr1-1-9'}, ['bridge']),
    ({'stp': 'on', 'delay': '2'}, ['stp', 'delay']),
    ({'mtu': 9000}, ['mtu']),
    ({'extra': ['forward']}, ['extra']),
    ({'autostart': False}, ['autostart']),
    ({'active': False}, ['active']),
    ({'mac': '52:54:00:00:00:02', 'uuid': 'other'}, []),  # kept, not compared
])
def test_differences(change, fields):
    assert differences(DESIRED, dict(CURRENT, **change)) == fields


@pytest.mark.parametrize('state, current, fields, actions', [
    ('present', None, [], ['define', 'autostart', 'start']),
    ('present', CURRENT, [], []),
    ('present', CURRENT, ['bridge'], ['destroy', 'redefine', 'start']),
    ('present', dict(CURRENT, active=False), ['extra', 'active'], ['redefine', 'start']),
    ('present', CURRENT, ['autostart'], ['autostart']),
    ('present', dict(CURRENT, active=False), ['active'], ['start']),
    ('present', dict(CURRENT, active=False, autostart=False), ['mtu', 'autostart', 'active'], ['redefine', 'autostart', 'start']),
    ('absent', None, [], []),
    ('absent', CURRENT, [], ['destroy', 'undefine']),
    ('absent', dict(CURRENT, active=False), [], ['undefine']),
])
def test_plan_actions(state, current, fields, actions):
    assert plan_actions(state, current, fields) == actions


@pytest.mark.parametrize('actions, expected', [
    (['destroy', 'redefine', 'start'], True),
    (['redefine', 'start'], False),
    (['destroy', 'undefine'], False),
])
def test_restarts(actions, expected):
    assert restarts(actions) is expected


def test_compare_create():
    changed, diff, actions = compare('present', DESIRED, None)
    assert changed is True and actions == ['define', 'autostart', 'start']
    assert diff == {'before': {'state': 'absent'},
                    'after': {'state': 'present', 'bridge': 'kvr1-1-1', 'stp': 'off', 'delay': '0', 'mtu': None,
                              'extra': [], 'autostart': True, 'active': True}}


def test_compare_unchanged():
    changed, diff, actions = compare('present', DESIRED, CURRENT)
    assert (changed, actions) == (False, [])
    assert diff['before'] == diff['after']


def test_compare_drift_shows_before_and_after():
    changed, diff, actions = compare('present', DESIRED, dict(CURRENT, bridge='virbr9', extra=['forward', 'ip']))
    assert changed is True and actions == ['destroy', 'redefine', 'start']
    assert (diff['before']['bridge'], diff['before']['extra']) == ('virbr9', ['forward', 'ip'])
    assert (diff['after']['bridge'], diff['after']['extra']) == ('kvr1-1-1', [])


@pytest.mark.parametrize('current, changed, actions', [
    (None, False, []),
    (CURRENT, True, ['destroy', 'undefine']),
])
def test_compare_absent(current, changed, actions):
    assert compare('absent', {'name': 'n', 'owner': None}, current) == (
        changed, {'before': view(current), 'after': {'state': 'absent'}}, actions)
