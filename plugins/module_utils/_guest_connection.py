# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""How a follow-on play reaches the deployed guests: through their guest agents, from the controller.

The guests sit on isolated networks, so there is no SSH path to them; every guest we build runs
qemu-guest-agent, and community.libvirt's ``libvirt_qemu`` connection runs modules through it. It
needs the libvirt URI by which the controller reaches the guest's KVM host: the host's own URI
when the host is the controller, else ``qemu+ssh://`` with the user, address, port and key Ansible
uses for that host (libvirt's ssh transport runs the ssh client, so ``~/.ssh/config`` and
``known_hosts`` apply). A host may name its URI itself with GUEST_URI_HOST_VAR.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from urllib.parse import quote, urlsplit

CONNECTION_PLUGIN = 'community.libvirt.libvirt_qemu'
GUEST_URI_HOST_VAR = 'kvm_auto_range_guest_uri'
# A KVM host's variables that shape the URI (besides GUEST_URI_HOST_VAR).
SSH_HOST_VARS = ('ansible_host', 'ansible_user', 'ansible_port', 'ansible_ssh_private_key_file')

_URI = re.compile(r'^[a-z][a-z0-9+.-]*://[^\s]*$')


def uri_error(value):
    """Why ``value`` cannot be a host's GUEST_URI_HOST_VAR, or None."""
    if not isinstance(value, str) or not _URI.match(value):
        return '%r is not a libvirt URI such as qemu+ssh://root@kvm1.example.org/system' % (value,)
    return None


def guest_uri(inventory_host, host_vars, local, host_uri):
    """The libvirt URI by which the controller reaches the guests of one KVM host.

    ``host_vars``: the host's variables (GUEST_URI_HOST_VAR and SSH_HOST_VARS it sets);
    ``local``: the host is the controller; ``host_uri``: the URI the role uses on the host
    (``kvm_auto_range_uri``, e.g. ``qemu:///system``).
    """
    explicit = host_vars.get(GUEST_URI_HOST_VAR)
    if explicit:
        return explicit
    parts = urlsplit(host_uri)
    if local or parts.netloc:
        # The controller itself, or a URI that already names a remote host.
        return host_uri
    address = '%s' % (host_vars.get('ansible_host') or inventory_host)
    if ':' in address:
        address = '[%s]' % address
    user = host_vars.get('ansible_user')
    port = host_vars.get('ansible_port')
    key = host_vars.get('ansible_ssh_private_key_file')
    netloc = '%s%s%s' % (quote('%s' % user, safe='') + '@' if user else '', address, ':%s' % port if port else '')
    query = '?keyfile=%s' % quote('%s' % key, safe='/') if key else ''
    return '%s+ssh://%s%s%s' % (parts.scheme.split('+')[0], netloc, parts.path or '/system', query)


def connection_vars(domain):
    """The inventory variables that give one deployed domain a working connection."""
    found = {'ansible_connection': CONNECTION_PLUGIN, 'ansible_host': domain['name']}
    if domain.get('libvirt_uri'):
        found['ansible_libvirt_uri'] = domain['libvirt_uri']
    return found
