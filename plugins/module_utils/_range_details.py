# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""What the range details file says: hosts, networks, images, guests and their domains, without any password.

The file keeps the shape of CyRIS's own ``range_details-cr<id>.yml`` for tools written for it:
``range_id``, and ``hosts[]`` with ``host_id``, ``mgmt_addr``, ``instance_count`` and
``instances[]`` (``instance_index``, ``guests[]`` with ``guest_id``, ``kvm_domain``, ``ip_addrs``,
``gateways`` and ``networks`` keyed by NIC label). Our own keys sit beside them: ``networks``,
``images``, ``guests`` (each with its ``domains``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_connection import connection_vars
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_images import host_image_file, host_image_pattern


def range_details(plan, vm_results=None, addresses=None, images=None, access=None):
    """The ``range_details-cr<id>.yml`` content: hosts, guests, domains, MACs, addresses, accounts.

    ``vm_results``: domain name -> result of kvm_auto_vm (uuid, state, interfaces).
    ``addresses``: MAC -> IP address, when a DHCP lease or a fixed address is known.
    ``images``: image file name -> result of kvm_auto_image (checksum).
    ``access``: kvm_auto_access's ``access`` (each entry point's address, port and account; the
    passwords are only in the notification file).
    """
    doors = dict((a['guest'], {'address': a['address'], 'port': a['port'], 'account': a['account']})
                 for a in access or ())
    vm_results = vm_results or {}
    guest_uris = dict((h['inventory_host'], h.get('guest_uri')) for h in plan.get('layout') or ())
    addresses = dict((('%s' % k).lower(), v) for k, v in (addresses or {}).items())
    images = images or {}
    guests = []
    for guest in plan['guests']:
        entry = dict(guest)
        image = images.get(guest.get('image')) or {}
        if image.get('checksum'):
            entry['image_checksum'] = image['checksum']
        entry['domains'] = []
        for vm in plan['vms']:
            if vm['guest'] != guest['id']:
                continue
            result = vm_results.get(vm['name']) or {}
            domain = {
                'name': vm['name'],
                'guest': vm['guest'],
                'host': vm['host'],
                'inventory_host': vm['inventory_host'],
                'instance': vm['instance'],
                'index': vm['index'],
                'entry_point': vm['entry_point'],
                'state': result.get('state'),
                'uuid': result.get('uuid'),
                'interfaces': [],
            }
            planned = dict((nic['mac'], nic) for nic in vm.get('nics') or ())
            for nic in result.get('interfaces') or ():
                mac = (nic.get('mac') or '').lower()
                iface = {'mac': mac, 'network': nic.get('network') or nic.get('bridge')}
                if mac in planned:
                    iface.update(label=planned[mac]['label'], address=planned[mac]['address'],
                                 prefix=planned[mac]['prefix'], cyris_network=planned[mac]['cyris_network'])
                elif addresses.get(mac):
                    iface['address'] = addresses[mac]
                domain['interfaces'].append(iface)
            if not result.get('interfaces'):
                # Not created (yet): the plan still says what the NICs will be.
                domain['interfaces'] = [{'mac': n['mac'], 'network': n['network'], 'label': n['label'],
                                         'address': n['address'], 'prefix': n['prefix'],
                                         'cyris_network': n['cyris_network']} for n in vm.get('nics') or ()]
            domain['gateway'] = vm.get('gateway')
            domain['forwarding'] = bool(vm.get('forwarding'))
            domain['forwarding_rules'] = [dict(rule) for rule in vm.get('accept') or () if rule['src'] and rule['dst']]
            domain['address'] = next((i['address'] for i in domain['interfaces'] if i.get('address')), None)
            if vm['name'] in doors:
                domain['trainee_access'] = doors[vm['name']]
            if guest_uris.get(vm['inventory_host']):
                domain['libvirt_uri'] = guest_uris[vm['inventory_host']]
            entry['domains'].append(domain)
        guests.append(entry)
    return {
        'range_id': plan['range_id'],
        'hosts': [_cyris_host(h, guests) for h in plan['hosts'] if h['used']],
        'networks': [dict((k, n[k]) for k in ('name', 'network', 'instance', 'subnet', 'bridge', 'gateway',
                                              'gateway_domain', 'host', 'inventory_host'))
                     for n in plan.get('networks') or ()],
        'images': [{'name': i['name'], 'image_name': i['image_name'], 'disk_size': i['disk_size'],
                    'guests': i['guests'], 'hosts': i['hosts'],
                    'checksum': (images.get(i['name']) or {}).get('checksum'),
                    'host_file': host_image_file(i['name'], (images.get(i['name']) or {}).get('checksum'))}
                   for i in plan['images']],
        'guests': guests,
    }


def _cyris_host(host, guests):
    """A host entry as CyRIS writes it, with our own keys (id, account, inventory_host) beside."""
    instances = {}
    doors = {}
    for guest in guests:
        for domain in guest['domains']:
            if domain['host'] != host['id'] or domain['instance'] is None:
                continue
            if domain.get('trainee_access'):
                doors[domain['instance']] = domain['trainee_access']
            cyris = {'guest_id': domain['guest'], 'kvm_domain': domain['name']}
            labelled = [i for i in domain['interfaces'] if i.get('label')]
            cyris['ip_addrs'] = dict((i['label'], i['address']) for i in labelled)
            if domain['gateway']:
                cyris['gateways'] = dict((i['label'], domain['gateway']) for i in labelled)
            if domain['forwarding']:
                cyris['firewall_rule'] = firewall_rule(domain['forwarding_rules'])
            if labelled:
                cyris['networks'] = dict((i['label'], i['cyris_network']) for i in labelled)
            instances.setdefault(domain['instance'], []).append(cyris)
    return {
        'host_id': host['id'],
        'mgmt_addr': host['mgmt_addr'],
        'instance_count': len(instances),
        'instances': [dict({'instance_index': index, 'guests': instances[index]},
                           **({'access': doors[index]} if index in doors else {})) for index in sorted(instances)],
        'id': host['id'],
        'account': host['account'],
        'inventory_host': host['inventory_host'],
    }


def firewall_rule(rules):
    """CyRIS's ``firewall_rule`` of a forwarding guest: the commands its rules amount to, as ``rule0``...

    The guest's identity service runs their equivalent at every boot (in its own chain, with a
    FORWARD policy of DROP, which CyRIS leaves to the image).
    """
    commands = ['sysctl -w net.ipv4.ip_forward=1']
    for rule in rules:
        ports = ''
        multiport = any(',' in (rule[key] or '') for key in ('sport', 'dport'))
        if multiport:
            ports += ' -m multiport'
        for key, option in (('sport', '--sport'), ('dport', '--dport')):
            if rule[key]:
                ports += ' %s%s %s' % (option, 's' if multiport else '', rule[key])
        commands.append('iptables -A FORWARD -p tcp -s %s -d %s%s -m conntrack --ctstate NEW -j ACCEPT' % (
            ','.join(rule['src']), ','.join(rule['dst']), ports))
    commands.append('iptables -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT')
    commands.append('iptables -P FORWARD DROP')
    return dict(('rule%d' % number, command) for number, command in enumerate(commands))


def details_problem(details):
    """What keeps ``details`` (a details file's content) from listing deployed domains, or None."""
    if not isinstance(details, dict) or 'range_id' not in details:
        return 'it has no range_id'
    if not isinstance(details.get('guests'), list):
        return 'it has no list of guests'
    for place, guest in enumerate(details['guests']):
        if not isinstance(guest, dict) or not isinstance(guest.get('domains'), list):
            return 'guests[%d] has no list of domains' % place
        for index, domain in enumerate(guest['domains']):
            missing = [key for key in ('name', 'guest', 'inventory_host') if not isinstance(domain, dict) or not domain.get(key)]
            if missing:
                return 'guests[%d].domains[%d] has no %s' % (place, index, ', '.join(missing))
    return None


def inventory_entries(details):
    """One inventory host per deployed domain: its groups, the variables the role documents, and
    the connection through its guest agent (``vars``, see _guest_connection.connection_vars)."""
    group = 'kvm_auto_range_cr%s' % ('%s' % details['range_id']).replace('-', '_')
    entries = []
    for guest in details['guests']:
        for domain in guest['domains']:
            host_vars = connection_vars(domain)
            host_vars.update(
                kvm_auto_range_guest_id=domain['guest'],
                kvm_auto_range_kvm_host=domain['inventory_host'],
                kvm_auto_range_entry_point=bool(domain.get('entry_point')),
                kvm_auto_range_guest_address=domain.get('address'),
                kvm_auto_range_instance=domain.get('instance'),
            )
            entries.append({'name': domain['name'], 'groups': ['kvm_auto_range_guests', group], 'vars': host_vars})
    return entries


def destroy_targets(plan, hosts, recorded=None):
    """What destroy removes: the plan's guests, copies and images, plus those the last deployment's
    details file (``recorded``) lists and the plan no longer has.

    ``hosts``: the plan's host layout (``image_dir``, ``disk_dir`` per inventory host).
    Returns {vms, copies, images, networks, unreachable}: ``vms`` carry ``inventory_host`` and ``disk_dir``,
    ``copies`` carry ``inventory_host``, ``image_dir`` and the ``pattern`` of the image's files
    there, and ``unreachable`` names recorded guests whose host the plan no longer knows.
    """
    recorded = recorded if isinstance(recorded, dict) else {}
    layout = dict((h['inventory_host'], h) for h in hosts)
    known = dict((h['id'], h['inventory_host']) for h in plan['hosts'])
    vms = [{'name': vm['name'], 'inventory_host': vm['inventory_host']} for vm in plan['vms']]
    unreachable = []
    for guest in recorded.get('guests') or ():
        for domain in guest.get('domains') or ():
            entry = {'name': domain.get('name'), 'inventory_host': domain.get('inventory_host')}
            if not entry['name'] or entry in vms:
                continue
            if entry['inventory_host'] in layout:
                vms.append(entry)
            else:
                unreachable.append('%s on %s' % (entry['name'], entry['inventory_host']))
    copies = [{'image': c['image'], 'inventory_host': c['inventory_host']} for c in plan['copies']]
    images = [i['name'] for i in plan['images']]
    for image in recorded.get('images') or ():
        if image.get('name') and image['name'] not in images:
            images.append(image['name'])
        for host in image.get('hosts') or ():
            entry = {'image': image.get('name'), 'inventory_host': known.get(host)}
            if entry['image'] and entry['inventory_host'] and entry not in copies:
                copies.append(entry)
    networks = [{'name': n['name'], 'inventory_host': n['inventory_host']} for n in plan.get('networks') or ()]
    for network in recorded.get('networks') or ():
        entry = {'name': network.get('name'), 'inventory_host': network.get('inventory_host')}
        if entry['name'] and entry['inventory_host'] in layout and entry not in networks:
            networks.append(entry)
    for vm in vms:
        vm['disk_dir'] = layout[vm['inventory_host']]['disk_dir']
    for copy in copies:
        copy['image_dir'] = layout[copy['inventory_host']]['image_dir']
        copy['pattern'] = host_image_pattern(copy['image'])
    return {'vms': vms, 'copies': copies, 'images': images, 'networks': networks, 'unreachable': unreachable}


def parse_leases(texts):
    """MAC -> IP address from the output of ``virsh net-dhcp-leases`` (one or several texts)."""
    addresses = {}
    if isinstance(texts, str):
        texts = [texts]
    for text in texts or ():
        for line in ('%s' % (text or '')).splitlines():
            fields = line.split()
            # Expiry date, time, MAC, protocol, address/prefix, hostname, client id.
            if len(fields) >= 5 and fields[3] in ('ipv4', 'ipv6') and fields[2].count(':') == 5:
                addresses[fields[2].lower()] = fields[4].split('/')[0]
    return addresses
