# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Compare the guest asked for with the domain libvirt holds; derive diff and actions.

All functions are pure: ``desired`` comes from ``_vm_spec.desired_guest``, ``current`` from
``_vm_libvirt.Libvirt.inspect`` (or None when no domain has the name).  Only what the user
specified is compared: a NIC whose MAC was left unset matches any MAC.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import mask_identity
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_access import access_view

# Compared fields; all but autostart live in the domain definition.
FIELDS = ('vcpus', 'memory', 'interfaces', 'graphics', 'disk', 'identity', 'access', 'autostart')
DEFINITION_FIELDS = FIELDS[:-1]
# Run-state actions: a reset replaces them with its own power-off and start.
_RUN_ACTIONS = ('destroy', 'stop', 'start', 'resume')


def _nic_kind(nic):
    return 'network' if nic.get('network') else 'bridge'


def nic_matches(want, have):
    kind = _nic_kind(want)
    if have.get(kind) != want[kind] or have.get('model') != want['model']:
        return False
    return not want.get('mac') or have.get('mac') == want['mac']


def graphics_matches(want, have):
    if want['type'] != have['type']:
        return False
    if want['listen'] is not None and have['listen'] != want['listen']:
        return False
    return want['port'] is None or have['port'] == want['port']


def differences(desired, current):
    """Names of the FIELDS in which the defined domain differs from the guest asked for.

    A setting the user left unset (None in ``desired``) is never a difference.
    """
    fields = []
    for field in ('vcpus', 'memory'):
        if desired[field] is not None and desired[field] != current[field]:
            fields.append(field)
    want, have = desired['interfaces'], current['interfaces']
    if want is not None and (len(want) != len(have) or not all(nic_matches(w, h) for w, h in zip(want, have))):
        fields.append('interfaces')
    if desired['graphics'] is not None and not graphics_matches(desired['graphics'], current['graphics']):
        fields.append('graphics')
    if desired['disk'] is not None and current['disks'][:1] != [desired['disk']]:
        fields.append('disk')
    # An identity still inline in the definition (an older release) moves to its file.
    if desired.get('identity') is not None and (desired['identity'] != current.get('identity')
                                                or not current.get('identity_file')):
        fields.append('identity')
    if desired.get('access') is not None and desired['access'] != access_view(current.get('access')):
        fields.append('access')
    if desired['autostart'] is not None and desired['autostart'] != current['autostart']:
        fields.append('autostart')
    return fields


def kept_macs(desired, current):
    """Per desired NIC, the MAC to keep from the defined NIC at the same place (None: none)."""
    have = current['interfaces'] if current else []
    macs = []
    for index, nic in enumerate(desired['interfaces']):
        if nic['mac']:
            macs.append(nic['mac'])
        elif index < len(have):
            macs.append(have[index].get('mac'))
        else:
            macs.append(None)
    return macs


def public_interfaces(nics):
    """NICs as returned to the user: {mac, network|bridge, model}; unknown MACs left out."""
    keys = ('mac', 'network', 'bridge', 'type', 'model')
    return [dict((k, nic[k]) for k in keys if nic.get(k) is not None) for nic in nics]


def _graphics_view(graphics):
    return dict((k, v) for k, v in graphics.items() if v is not None)


def current_view(current):
    """The ``before`` of the diff; the identity shown masked (it may hold the trainee's hash)."""
    if current is None:
        return {'state': 'absent'}
    return {
        'state': current['state'],
        'vcpus': current['vcpus'],
        'memory': current['memory'],
        'interfaces': public_interfaces(current['interfaces']),
        'graphics': _graphics_view(current['graphics']),
        'disk': current['disks'][0] if current['disks'] else None,
        'identity': mask_identity(current.get('identity')),
        'access': access_view(current.get('access')),
        'autostart': current['autostart'],
    }


def desired_view(desired, current, state):
    """The ``after`` of the diff for the complete guest ``desired`` (see ``complete_guest``)."""
    if state == 'absent':
        return {'state': 'absent'}
    if state == 'present':
        state = current['state'] if current else 'stopped'
    elif state == 'reset':
        state = 'running'
    nics = [dict(nic, mac=mac) for nic, mac in zip(desired['interfaces'], kept_macs(desired, current))]
    graphics = dict(desired['graphics'])
    if graphics['port'] is None and current and current['graphics']['type'] == graphics['type']:
        graphics['port'] = current['graphics']['port']
    return {
        'state': state,
        'vcpus': desired['vcpus'],
        'memory': desired['memory'],
        'interfaces': public_interfaces(nics),
        'graphics': _graphics_view(graphics),
        'disk': desired['disk'],
        'identity': mask_identity(desired.get('identity')),
        'access': desired.get('access'),
        'autostart': desired['autostart'],
    }


def reset_diff(diff, image):
    """``diff`` of a reset: it says that the guest disk is made anew on ``image``."""
    before = dict(diff['before'], disk_content='as the guest left it')
    after = dict(diff['after'], disk_content='a new overlay on %s' % image)
    return {'before': before, 'after': after}


def reset_actions(running_actions, current):
    """A reset: power off, the definition changes of ``running_actions`` (what state=running
    would do), a new overlay (unless the change already creates a fresh disk), start."""
    changes = [a for a in running_actions if a not in _RUN_ACTIONS]
    power_off = ['destroy'] if current['state'] != 'stopped' else []
    disk = [] if 'create_disk' in changes else ['recreate_disk']
    return power_off + changes + disk + ['start']


def plan_actions(state, current, fields, recreate, disk_exists, autostart):
    """Ordered actions that bring the domain from ``current`` to ``state`` and the asked definition.

    Actions: create_disk, recreate_disk, define, redefine, destroy, undefine, remove_disks,
    autostart, start, resume, stop.  ``fields`` is what ``differences`` found (ignored when
    ``current`` is None).  A changed access restarts a running guest: its host port is QEMU's
    and must not stay on the old one.
    """
    if state == 'reset':
        return reset_actions(plan_actions('running', current, fields, recreate, disk_exists, autostart), current)
    if state == 'absent':
        if current is None:
            return []
        return (['destroy'] if current['state'] != 'stopped' else []) + ['undefine', 'remove_disks']
    actions = []
    if current is None:
        if not disk_exists:
            actions.append('create_disk')
        actions.append('define')
        if autostart:
            actions.append('autostart')
        if state == 'running':
            actions.append('start')
        return actions
    definition = [f for f in fields if f in DEFINITION_FIELDS]
    now = current['state']
    if definition and 'disk' in definition and not disk_exists:
        actions.append('create_disk')
    if definition and recreate:
        if now != 'stopped':
            actions.append('destroy')
        actions += ['undefine', 'define']
        if autostart:
            actions.append('autostart')
        if state == 'running' or (state == 'present' and now != 'stopped'):
            actions.append('start')
        return actions
    if definition:
        actions.append('redefine')
    if 'autostart' in fields:
        actions.append('autostart')
    if 'access' in definition and now != 'stopped' and state in ('running', 'present'):
        actions += ['stop', 'start']
    elif state == 'running' and now == 'stopped':
        actions.append('start')
    elif state == 'running' and now == 'paused':
        actions.append('resume')
    elif state == 'stopped' and now != 'stopped':
        actions.append('stop')
    return actions


def restart_required(actions, current):
    """True when a redefinition only takes effect at the guest's next boot."""
    if 'redefine' not in actions or current is None:
        return False
    return current['state'] != 'stopped' and 'stop' not in actions and 'destroy' not in actions
