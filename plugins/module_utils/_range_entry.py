# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Entry points of a range: the one door of each instance, and the trainee who uses it.

As in CyRIS, clone 1 of the guest marked ``entry_point`` in a host block is its instance's entry
point, and its trainee's account is ``trainee%02d`` of the instance's position on its KVM host
(trainee01, trainee02, ..., starting again on each host), the prefix being configurable.

Each entry point gets an access NIC: QEMU user networking restricted to one forwarded port of the
KVM host (see _vm_access); the port itself is chosen at run time by kvm_auto_access, which knows
what the host listens on. Its address in the access subnet is written into the guest's identity
like any other address, so the shared image needs nothing per instance.

Also here: which guests a reset of some instances touches.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.cyris.kvm_auto.plugins.module_utils._cyris_schema import check_account
from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import is_ipv4
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import show
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_networks import mac_of
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_access import AccessError, DEFAULT_SUBNET, guest_address

# The host variable that gives the address trainees use for a KVM host (default: its mgmt_addr).
ADDRESS_HOST_VAR = 'kvm_auto_range_trainee_address'
DEFAULT_PORTS = '60000-65000'
SSH_PORT = 22
# The role's defaults, for callers that give none (the role passes its variables).
DEFAULTS = {'trainee_ports': DEFAULT_PORTS, 'trainee_prefix': 'trainee', 'trainee_sudo': True,
            'trainee_listen': '0.0.0.0', 'access_subnet': DEFAULT_SUBNET}


def parse_ports(text):
    """(first, last) of a port range ``FIRST-LAST`` (or a single port), or raise ValueError."""
    first, dash, last = ('%s' % text).strip().partition('-')
    if not (first.isdigit() and (last.isdigit() if dash else True)):
        raise ValueError('%s is not a port range such as %s' % (show(text), DEFAULT_PORTS))
    first, last = int(first), int(last) if dash else int(first)
    if not 1 <= first <= last <= 65535:
        raise ValueError('%s is not a port range such as %s (ports 1-65535, first <= last)' % (show(text), DEFAULT_PORTS))
    return first, last


def check_settings(settings):
    """Errors of the role's trainee access variables (an empty list when they are usable)."""
    errors = []
    try:
        parse_ports(settings['trainee_ports'])
    except ValueError as exc:
        errors.append('kvm_auto_range_trainee_ports: %s' % exc)
    problem = check_account('%s%02d' % (settings['trainee_prefix'], 1))
    if problem:
        errors.append('kvm_auto_range_trainee_prefix: %s' % problem)
    if not is_ipv4('%s' % settings['trainee_listen']):
        errors.append('kvm_auto_range_trainee_listen: %s is not an IPv4 address (0.0.0.0: every address of the host)'
                      % show(settings.get('trainee_listen')))
    try:
        guest_address(settings['access_subnet'])
    except AccessError as exc:
        errors.append('kvm_auto_range_access_subnet: %s' % exc)
    return errors


def _subnet(settings):
    """The access subnet, or None when kvm_auto_vm would refuse it (one rule: _vm_access's)."""
    try:
        guest_address(settings['access_subnet'])
    except AccessError:
        return None
    return ipaddress.IPv4Network('%s' % settings['access_subnet'])


def plan_entry_points(vms, settings):
    """Give each instance's entry point its ``access`` NIC and ``trainee``; return the errors.

    ``vms``: the placed domains; ``settings``: the role's (already checked by check_settings).
    Must run before the identities are written (they carry the access address).
    """
    errors = []
    subnet = '%s' % settings['access_subnet']
    first, last = parse_ports(settings['trainee_ports'])
    positions = {}
    doors = 0
    for vm in vms:
        vm['access'] = None
        vm['trainee'] = None
        if vm.get('instance') is not None:
            positions.setdefault(vm['host'], [])
            if vm['instance'] not in positions[vm['host']]:
                positions[vm['host']].append(vm['instance'])
    for vm in vms:
        if not vm['entry_point'] or vm.get('instance') is None or vm['index'] != 1:
            continue
        if vm['basevm_type'] != 'kvm-auto':
            errors.append('guest %s (entry point of instance %d): a %s guest has no identity service to create the '
                          'trainee account; make a kvm-auto guest the entry point' % (
                              vm['guest'], vm['instance'], vm['basevm_type']))
            continue
        vm['access'] = {'subnet': subnet, 'mac': mac_of(guest_address(subnet).split('/')[0]),
                        'listen': '%s' % settings['trainee_listen'], 'guest_port': SSH_PORT}
        vm['trainee'] = {'name': '%s%02d' % (settings['trainee_prefix'], positions[vm['host']].index(vm['instance']) + 1),
                         'sudo': bool(settings['trainee_sudo'])}
        doors += 1
    # kvm_auto_access gives every instance of the range a port of its own.
    if doors > last - first + 1:
        errors.append('kvm_auto_range_trainee_ports: %s has %d port%s, but the range has %d instances with an '
                      'entry point, one port each' % (settings['trainee_ports'], last - first + 1,
                                                      '' if last == first else 's', doors))
    return errors


def subnet_conflicts(settings, networks):
    """Errors for range networks that overlap the access subnet (the entry points' own link)."""
    subnet = _subnet(settings)
    if subnet is None:
        return []
    return ['network %s of instance %d (%s) overlaps kvm_auto_range_access_subnet %s, the entry points\' access '
            'link: choose another access subnet' % (n['network'], n['instance'], n['subnet'], subnet)
            for n in networks if ipaddress.IPv4Network(n['subnet']).overlaps(subnet)]


def access_entries(plan, inventory_vars, address=None):
    """kvm_auto_access's ``entries``: one per entry point, with the address its trainee uses.

    ``inventory_vars``: inventory host -> its variables (ADDRESS_HOST_VAR when it sets it);
    ``address``: the role's kvm_auto_range_trainee_address, for hosts that set none (default:
    each host's mgmt_addr).
    """
    mgmt = dict((h['id'], h['mgmt_addr']) for h in plan['hosts'])
    entries = []
    for vm in plan['vms']:
        if not vm.get('trainee'):
            continue
        own = inventory_vars.get(vm['inventory_host']) or {}
        entries.append({'instance': vm['instance'], 'guest': vm['name'], 'host': vm['inventory_host'],
                        'address': '%s' % (own.get(ADDRESS_HOST_VAR) or address or mgmt[vm['host']]),
                        'account': vm['trainee']['name'], 'sudo': vm['trainee']['sudo']})
    return entries


def reset_selection(plan, instances):
    """(names of the guests to reset, errors) for ``instances``: ``all`` or a list of instance numbers."""
    numbers = sorted(set(vm['instance'] for vm in plan['vms'] if vm.get('instance') is not None))
    if not numbers:
        return [], ['kvm_auto_range_reset_instances: range %s has no instances (no clone_settings): nothing '
                    'to reset' % plan['range_id']]
    if instances in ('all', None, ''):
        wanted = numbers
    else:
        if not isinstance(instances, (list, tuple)):
            # From the command line: 1, "1,3" or "[1, 3]".
            instances = [i for i in ('%s' % instances).strip().strip('[]').split(',') if i.strip()]
        wanted, errors = [], []
        for item in instances:
            text = ('%s' % item).strip()
            if not text.isdigit() or int(text) not in numbers:
                errors.append('kvm_auto_range_reset_instances: instance %s does not exist: range %s has instances %s'
                              % (text if text.isdigit() else show(item), plan['range_id'], _spans(numbers)))
            elif int(text) not in wanted:
                wanted.append(int(text))
        if errors:
            return [], errors
    return [vm['name'] for vm in plan['vms'] if vm.get('instance') in wanted], []


def _spans(numbers):
    """1-3, 5 for [1, 2, 3, 5]."""
    spans = []
    for number in numbers:
        if spans and spans[-1][1] == number - 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ', '.join('%d' % a if a == b else '%d-%d' % (a, b) for a, b in spans)
