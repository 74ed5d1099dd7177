# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Compare the network asked for with the one libvirt holds; derive diff and actions.

All functions are pure: ``desired`` comes from ``_net_spec.desired_network``, ``current`` from
``_net_libvirt.NetLibvirt.inspect`` (or None when no network has the name).  The module owns
the whole definition of its networks, so every managed field is compared.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Fields of the definition; a difference in one redefines the network.
DEFINITION_FIELDS = ('bridge', 'stp', 'delay', 'mtu', 'extra')
FIELDS = DEFINITION_FIELDS + ('autostart', 'active')


def differences(desired, current):
    """Names of the FIELDS in which the defined network differs from the one asked for."""
    want = dict(desired, autostart=True, active=True)
    return [field for field in FIELDS if want[field] != current[field]]


def plan_actions(state, current, fields):
    """Ordered actions that bring the network from ``current`` to ``state``.

    Actions: define, redefine, destroy, undefine, autostart, start.  A changed definition is
    applied by stopping the network, redefining it and starting it again.
    """
    if state == 'absent':
        if current is None:
            return []
        return (['destroy'] if current['active'] else []) + ['undefine']
    if current is None:
        return ['define', 'autostart', 'start']
    actions = []
    redefine = any(field in DEFINITION_FIELDS for field in fields)
    if redefine and current['active']:
        actions.append('destroy')
    if redefine:
        actions.append('redefine')
    if 'autostart' in fields:
        actions.append('autostart')
    if redefine or 'active' in fields:
        actions.append('start')
    return actions


def restarts(actions):
    """True when the actions stop a running network to start it again (its guests lose their ports)."""
    return 'destroy' in actions and 'start' in actions


def view(network):
    """A network (desired or current) as shown in the diff."""
    if network is None:
        return {'state': 'absent'}
    shown = dict((field, network[field]) for field in FIELDS)
    shown['state'] = 'present'
    return shown


def compare(state, desired, current):
    """(changed, diff, actions) for bringing ``current`` to ``state`` with ``desired``."""
    if state == 'absent':
        fields = []
        after = None
    else:
        after = dict(desired, autostart=True, active=True)
        fields = list(FIELDS) if current is None else differences(desired, current)
    actions = plan_actions(state, current, fields)
    return bool(actions), {'before': view(current), 'after': view(after)}, actions
