# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""libvirt side of kvm_auto_network: read networks into plain data, run a network's lifecycle."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.cyris.kvm_auto.plugins.module_utils._libvirt_common import LibvirtConnection, libvirt
from ansible_collections.cyris.kvm_auto.plugins.module_utils._net_spec import NetError, guest_ports, parse_network_xml


class NetLibvirt(LibvirtConnection):
    """One libvirt connection for networks; methods raise NetError naming what failed and why."""

    error = NetError

    def _definition(self, network):
        """XML of the persistent definition (which differs from the live one after a redefinition)."""
        try:
            try:
                return network.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE)
            except libvirt.libvirtError as exc:
                # libvirt's test driver knows no flags; its only definition is the live one.
                if exc.get_error_code() != libvirt.VIR_ERR_INVALID_ARG:
                    raise
                return network.XMLDesc(0)
        except libvirt.libvirtError as exc:
            raise NetError('cannot read the definition of network %s from libvirt: %s' % (network.name(), exc))

    def inspect(self, network):
        """Plain data of a defined network: its persistent definition, activity and autostart."""
        xml = self._definition(network)
        try:
            active = bool(network.isActive())
            autostart = bool(network.autostart())
        except libvirt.libvirtError as exc:
            raise NetError('cannot read the state of the network from libvirt: %s' % exc)
        current = parse_network_xml(xml)
        current.update({'xml': xml, 'active': active, 'autostart': autostart})
        return current

    def bridge_users(self, bridge):
        """Names of the libvirt networks whose live or persistent definition uses ``bridge``."""
        try:
            networks = self.conn.listAllNetworks()
            users = []
            for network in networks:
                definitions = [self._definition(network)]
                if network.isActive():
                    definitions.append(network.XMLDesc(0))
                if any(parse_network_xml(xml)['bridge'] == bridge for xml in definitions):
                    users.append(network.name())
        except libvirt.libvirtError as exc:
            raise NetError('cannot list the libvirt networks: %s' % exc)
        return sorted(users)

    def guest_ports(self, name):
        """[(domain, device)] of every NIC of a running domain on network ``name``."""
        try:
            domains = self.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
            return [(domain.name(), device) for domain in domains for device in guest_ports(domain.XMLDesc(0), name)]
        except libvirt.libvirtError as exc:
            raise NetError('cannot list the running guests: %s' % exc)

    def define(self, xml):
        try:
            return self.conn.networkDefineXML(xml)
        except libvirt.libvirtError as exc:
            raise NetError('libvirt refused the network definition: %s' % exc)

    @staticmethod
    def _act(what, call, *args):
        try:
            return call(*args)
        except libvirt.libvirtError as exc:
            raise NetError('cannot %s the network: %s' % (what, exc))

    def set_autostart(self, network, value):
        self._act('set autostart of', network.setAutostart, 1 if value else 0)

    def start(self, network):
        self._act('start', network.create)

    def destroy(self, network):
        self._act('stop', network.destroy)

    def undefine(self, network):
        self._act('undefine', network.undefine)
