# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""One run of kvm_auto_network: inspect, compare once, act on the difference, report.

``NetRun(module).run()`` is the whole module.  Reading and every check are done in check
mode too; every change is an action of ``_net_compare.plan_actions`` and is skipped in check mode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.cyris.kvm_auto.plugins.module_utils._libvirt_common import foreign_reason
from ansible_collections.cyris.kvm_auto.plugins.module_utils._net_compare import compare, restarts
from ansible_collections.cyris.kvm_auto.plugins.module_utils._net_libvirt import NetLibvirt
from ansible_collections.cyris.kvm_auto.plugins.module_utils._net_spec import (
    KIND, NetError, desired_network, loose_ports, network_xml, plug_argv)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._runner import CommandRunner

_SYS_NET = '/sys/class/net'


def _master_of(device):
    """The bridge a network device is on (None: on none), or False when there is no such device."""
    path = os.path.join(_SYS_NET, device)
    if not os.path.exists(path):
        return False
    master = os.path.join(path, 'master')
    return os.path.basename(os.readlink(master)) if os.path.islink(master) else None


class NetRun:
    """Bring one network to the state the module parameters ask for."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params['name']
        self.libvirt = None

    def run(self):
        result = None
        try:
            desired = desired_network(self.params)
            self.libvirt = NetLibvirt(self.params['uri'])
            try:
                result = self._run(desired)
            finally:
                self.libvirt.close()
        except NetError as exc:
            self.module.fail_json(msg='network %s: %s' % (self.name, exc))
        self.module.exit_json(**result)

    def _run(self, desired):
        state = self.params['state']
        network = self.libvirt.lookup_network(self.name)
        current = self.libvirt.inspect(network) if network is not None else None
        if current is not None:
            reason = foreign_reason(KIND, current['ours'], desired['owner'])
            if reason:
                raise NetError(reason)
        if state == 'present':
            self._check_bridge_free(desired['bridge'])
        changed, diff, actions = compare(state, desired, current)
        if not self.module.check_mode:
            network = self._act(desired, network, current, actions)
        if state == 'present':
            replugged = self._replug(desired['bridge'], restarted=restarts(actions) or 'start' in actions)
            if replugged:
                changed = True
                diff['before']['guest_ports'] = 'off the bridge: %s' % ', '.join('%s (%s)' % p for p in replugged)
                diff['after']['guest_ports'] = 'on %s' % desired['bridge']
        result = dict(self._report(network, current, diff['after']), changed=changed)
        if self.module._diff:
            result['diff'] = diff
        return result

    def _replug(self, bridge, restarted):
        """Put running guests' ports that are off the bridge back on it; return them.

        libvirt unplugs the ports of running guests when their network stops, and does not plug
        them in again when it starts: a network removed or restarted under running guests (a run
        killed half way, a hand-made change) would leave them cut off until they restart.
        """
        ports = self.libvirt.guest_ports(self.name)
        if self.module.check_mode and restarted:
            # The network will be (re)started: every port of a running guest on it will need plugging.
            return [(domain, device) for domain, device in ports if _master_of(device) is not False]
        loose = loose_ports(ports, bridge, _master_of)
        if loose and not self.module.check_mode:
            runner = CommandRunner(self.module, 'network %s' % self.name)
            ip = runner.bin_path('ip', 'this host: install iproute2')
            for _domain, device in loose:
                runner.run(plug_argv(ip, device, bridge), field='bridge')
        return loose

    def _check_bridge_free(self, bridge):
        others = [name for name in self.libvirt.bridge_users(bridge) if name != self.name]
        if others:
            raise NetError('bridge: %r is already the bridge of libvirt network %s; choose another bridge name' % (
                bridge, ', '.join(others)))

    def _act(self, desired, network, current, actions):
        for action in actions:
            if action == 'destroy':
                self.libvirt.destroy(network)
            elif action == 'undefine':
                self.libvirt.undefine(network)
                network = None
            elif action == 'define':
                network = self.libvirt.define(network_xml(desired))
            elif action == 'redefine':
                # Same UUID and MAC: libvirt refuses a new UUID for a defined name, and the bridge keeps its address.
                network = self.libvirt.define(network_xml(desired, uuid=current['uuid'], mac=current['mac']))
            elif action == 'autostart':
                self.libvirt.set_autostart(network, True)
            elif action == 'start':
                self.libvirt.start(network)
        return network

    def _report(self, network, current, after):
        """What the module returns besides changed and diff: libvirt's view, or in check mode the expected one."""
        if network is not None and not self.module.check_mode:
            now = self.libvirt.inspect(network)
            return {'name': self.name, 'bridge': now['bridge'], 'active': now['active'],
                    'autostart': now['autostart'], 'uuid': now['uuid']}
        if after['state'] == 'absent':
            return {'name': self.name, 'bridge': None, 'active': False, 'autostart': False, 'uuid': None}
        return {'name': self.name, 'bridge': after['bridge'], 'active': after['active'],
                'autostart': after['autostart'], 'uuid': current['uuid'] if current else None}
