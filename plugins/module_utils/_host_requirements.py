# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""What a KVM host needs for a range, how the role checks it, and what to install when it lacks it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_ports import listening_tcp_ports


# What provides each tool, per OS family (ansible_os_family).
PACKAGES = {
    'virt-install': {'Debian': 'virtinst', 'RedHat': 'virt-install', 'Suse': 'virt-install', 'Archlinux': 'virt-install'},
    'qemu-img': {'Debian': 'qemu-utils', 'RedHat': 'qemu-img', 'Suse': 'qemu-tools', 'Archlinux': 'qemu-img'},
    'virsh': {'Debian': 'libvirt-clients', 'RedHat': 'libvirt-client', 'Suse': 'libvirt-client', 'Archlinux': 'libvirt'},
    'libvirtd': {'Debian': 'libvirt-daemon-system', 'RedHat': 'libvirt-daemon-kvm', 'Suse': 'libvirt-daemon',
                 'Archlinux': 'libvirt'},
    # The image transfers: rsync runs on the sending and on the receiving end.
    'rsync': {'Debian': 'rsync', 'RedHat': 'rsync', 'Suse': 'rsync', 'Archlinux': 'rsync'},
    'virt-builder': {'Debian': 'libguestfs-tools', 'RedHat': 'guestfs-tools', 'Suse': 'guestfs-tools',
                     'Archlinux': 'guestfs-tools'},
}
INSTALLERS = {'Debian': 'apt-get install', 'RedHat': 'dnf install', 'Suse': 'zypper install', 'Archlinux': 'pacman -S'}


def install_hint(tool, family=None):
    """How to get ``tool``: the command for ``family``, or the Debian and Fedora package names."""
    packages = PACKAGES[tool]
    if family in packages:
        return '%s %s' % (INSTALLERS[family], packages[family])
    return 'install %s (Debian/Ubuntu) or %s (Fedora/RHEL)' % (packages['Debian'], packages['RedHat'])


# The checks whose output kvm_auto_access needs: what a host listens on, which guests run there.
PORT_CHECKS = ('tcp ports', 'tcp6 ports')
RUNNING_CHECK = 'running guests'


def host_checks(inventory_hosts, uri, network, shared_network_hosts=None, route_hosts=(), access_hosts=(), capacity=()):
    """The commands that show whether each KVM host has what the range needs: [{inventory_host, what, argv}].

    ``shared_network_hosts``: the hosts whose guests use the shared libvirt network ``network``
    (None: all); ``route_hosts``: the hosts that get topology networks, whose routes are listed
    so that a planned subnet overlapping one of them is refused before any change;
    ``access_hosts``: the hosts of entry points, whose listening ports and running guests tell
    which trainee ports are free; ``capacity``: the checks of _range_capacity.capacity_checks,
    added after the others except where a host runs the same check already.
    """
    checks = []
    for host in inventory_hosts:
        checks.append({'inventory_host': host, 'what': 'virt-install', 'argv': ['virt-install', '--version']})
        checks.append({'inventory_host': host, 'what': 'qemu-img', 'argv': ['qemu-img', '--version']})
        checks.append({'inventory_host': host, 'what': 'rsync', 'argv': ['rsync', '--version']})
        if shared_network_hosts is None or host in shared_network_hosts:
            checks.append({'inventory_host': host, 'what': 'libvirt', 'argv': ['virsh', '--connect', uri, 'net-info', network]})
        else:
            checks.append({'inventory_host': host, 'what': 'libvirtd', 'argv': ['virsh', '--connect', uri, 'uri']})
        if host in route_hosts:
            checks.append({'inventory_host': host, 'what': 'routes', 'argv': ['ip', '-j', '-4', 'route', 'show', 'table', 'all']})
        if host in access_hosts:
            # /proc rather than ss: the same on every distribution, and parsed by one function.
            checks.append({'inventory_host': host, 'what': PORT_CHECKS[0], 'argv': ['cat', '/proc/net/tcp']})
            checks.append({'inventory_host': host, 'what': PORT_CHECKS[1], 'argv': ['cat', '/proc/net/tcp6']})
            checks.append({'inventory_host': host, 'what': RUNNING_CHECK,
                           'argv': ['virsh', '--connect', uri, 'list', '--name', '--state-running']})
    planned = set((c['inventory_host'], c['what']) for c in checks)
    checks.extend(c for c in capacity if (c['inventory_host'], c['what']) not in planned)
    return checks


def access_host_state(check_results):
    """Inventory host -> {listening: [ports], running: [domains]}, from the results of ``host_checks``.

    A host without IPv6 has no /proc/net/tcp6: that check failing means no IPv6 listener.
    """
    state = {}
    for result in check_results or ():
        if not isinstance(result, dict) or result.get('skipped') or result.get('rc') != 0:
            continue
        host, what = result['item']['inventory_host'], result['item']['what']
        entry = state.setdefault(host, {'listening': [], 'running': []})
        if what in PORT_CHECKS:
            entry['listening'] = sorted(set(entry['listening']) | set(listening_tcp_ports(result.get('stdout') or '')))
        elif what == RUNNING_CHECK:
            entry['running'] = [line.strip() for line in (result.get('stdout') or '').splitlines() if line.strip()]
    return state


def host_problems(check_results, network, uri, os_families=None, planned_networks=()):
    """What the KVM hosts lack, from the results of ``host_checks`` run on them.

    Returns a list of {host, what, message}; a message starts with the host and says what
    to install (for the host's OS family when ``os_families`` knows it) or to start.
    ``planned_networks``: the range's topology networks, checked against each host's routes.
    """
    problems = []
    families = os_families or {}
    for result in check_results or ():
        # The capacity and base VM checks have their own readers (_range_capacity, _range_base_vms).
        if not isinstance(result, dict) or result.get('skipped') or result['item'].get('capacity') \
                or result['item'].get('base_vm'):
            continue
        host, what = result['item']['inventory_host'], result['item']['what']
        family = families.get(host)
        err = (result.get('stderr') or result.get('msg') or '').strip()
        rc = result.get('rc')
        # The command module answers rc=2 and "[Errno 2] No such file..." for a missing program,
        # sh (running a host's checks in one command, see _host_check_script) rc=127.
        missing = rc is None or rc == 127 or (rc == 2 and 'No such file' in err)
        message = None
        if what == PORT_CHECKS[1]:
            continue
        if what == PORT_CHECKS[0]:
            if rc != 0:
                message = 'cannot read /proc/net/tcp (rc=%s): %s' % (rc, err)
        elif what == RUNNING_CHECK:
            # libvirtd's own check (above in the list) reports an unreachable daemon.
            pass
        elif what == 'routes':
            if rc != 0:
                message = 'ip route failed with rc=%s: %s (install iproute2)' % (rc, err)
            else:
                for conflict in _route_conflicts(host, result.get('stdout'), planned_networks):
                    problems.append({'host': host, 'what': what, 'message': conflict})
        elif what in ('virt-install', 'qemu-img', 'rsync'):
            if rc != 0:
                message = '%s is missing: %s' % (what, install_hint(what, family))
        elif rc != 0 and missing:
            message = 'virsh is missing: %s' % install_hint('virsh', family)
        elif rc != 0 and ('connect' in err.lower() or 'socket' in err.lower()):
            message = 'libvirtd is not reachable at %s: %s, then start libvirtd (%s)' % (
                uri, install_hint('libvirtd', family), err.splitlines()[-1] if err else 'no error text')
        elif rc != 0 and 'network' in err.lower():
            message = ('the libvirt network %s does not exist: define it (virsh net-define) or set '
                       'kvm_auto_range_network' % network)
        elif rc != 0:
            message = 'virsh --connect %s net-info %s failed with rc=%s: %s' % (uri, network, rc, err)
        elif what == 'libvirtd':
            message = None
        elif not re.search(r'^Active:\s+yes', result.get('stdout') or '', re.M):
            message = 'the libvirt network %s is not active: start it (virsh net-start %s)' % (network, network)
        if message:
            problems.append({'host': host, 'what': what, 'message': '%s: %s' % (host, message)})
    return problems


def _route_conflicts(host, stdout, planned_networks):
    # Imported here: the modules use install_hint, and need none of the range planner.
    from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_networks import route_conflicts
    try:
        routes = json.loads(stdout or '[]')
    except ValueError:
        return ['%s: ip -j route printed no JSON: %s' % (host, (stdout or '')[:200])]
    return route_conflicts(planned_networks, {host: routes})
