# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""What the range details file says: hosts, images, guests and their domains, without any password."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_images import host_image_file


def range_details(plan, vm_results=None, addresses=None, images=None):
    """The ``range_details-cr<id>.yml`` content: hosts, guests, domains, MACs, addresses, accounts.

    ``vm_results``: domain name -> result of kvm_auto_vm (uuid, state, interfaces).
    ``addresses``: MAC -> IP address, when a DHCP lease or a fixed address is known.
    ``images``: image file name -> result of kvm_auto_image (checksum).
    """
    vm_results = vm_results or {}
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
            for nic in result.get('interfaces') or ():
                mac = (nic.get('mac') or '').lower()
                iface = {'mac': mac, 'network': nic.get('network') or nic.get('bridge')}
                if addresses.get(mac):
                    iface['address'] = addresses[mac]
                domain['interfaces'].append(iface)
            domain['address'] = next((i['address'] for i in domain['interfaces'] if i.get('address')), None)
            entry['domains'].append(domain)
        guests.append(entry)
    return {
        'range_id': plan['range_id'],
        'hosts': [{'id': h['id'], 'mgmt_addr': h['mgmt_addr'], 'account': h['account'],
                   'inventory_host': h['inventory_host']} for h in plan['hosts'] if h['used']],
        'images': [{'name': i['name'], 'image_name': i['image_name'], 'disk_size': i['disk_size'],
                    'guests': i['guests'], 'hosts': i['hosts'],
                    'checksum': (images.get(i['name']) or {}).get('checksum'),
                    'host_file': host_image_file(i['name'], (images.get(i['name']) or {}).get('checksum'))}
                   for i in plan['images']],
        'guests': guests,
    }
