# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: range
version_added: 0.1.0
short_description: The guests of deployed CyRIS ranges, from their range details files
author:
  - cyris.kvm_auto contributors (@cyris-kvm-auto)
description:
  - Reads the C(range_details-cr<id>.yml) files that the role R(cyris.kvm_auto.kvm_auto_range,ansible_collections.cyris.kvm_auto.kvm_auto_range_role)
    writes, and makes one inventory host per deployed guest, with the same name, groups and variables as the
    in-memory inventory of the deploy itself, so that a later playbook reaches the guests too.
  - Each guest is reached through its guest agent, with no network path from the controller to the guest's
    isolated networks. Its connection is C(community.libvirt.libvirt_qemu), with C(ansible_libvirt_uri) set to the
    libvirt URI the deploy recorded for the guest's KVM host (C(qemu:///system) on the controller, else
    C(qemu+ssh://...)). That needs the collection C(community.libvirt) and the libvirt Python binding on the
    controller, and Python in the guest for modules other than M(ansible.builtin.raw).
  - Groups are C(kvm_auto_range_guests) and C(kvm_auto_range_cr<id>) for each range; the host variables are
    C(kvm_auto_range_guest_id), C(kvm_auto_range_kvm_host), C(kvm_auto_range_entry_point),
    C(kvm_auto_range_guest_address) and C(kvm_auto_range_instance).
  - The configuration file's name must end in C(cyris_range.yml) or C(cyris_range.yaml).
extends_documentation_fragment:
  - ansible.builtin.constructed
options:
  plugin:
    description: The name of this plugin; it must be C(cyris.kvm_auto.range) for this plugin to read the file.
    type: str
    required: true
    choices: [cyris.kvm_auto.range]
  details_files:
    description:
      - Range details files, or glob patterns matching them. A relative path is relative to the directory of the
        configuration file.
      - A file named without a pattern must exist; a pattern may match nothing (no range deployed yet).
    type: list
    elements: str
    default: [/var/lib/cyris-kvm-auto/ranges/range_details-cr*.yml]
"""

EXAMPLES = r"""
# ranges.cyris_range.yml: every range deployed with the role's default details directory.
plugin: cyris.kvm_auto.range

---
# lab.cyris_range.yml: one range, its entry points in a group of their own.
plugin: cyris.kvm_auto.range
details_files:
  - ranges/range_details-cr123.yml
groups:
  entry_points: kvm_auto_range_entry_point
keyed_groups:
  - key: kvm_auto_range_guest_id
    prefix: guest

# Then, for example:
#   ansible -i lab.cyris_range.yml kvm_auto_range_cr123 -m ansible.builtin.command -a hostname
"""

import glob
import os

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import RangeError, plain
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_details import details_problem, inventory_entries


class InventoryModule(BaseInventoryPlugin, Constructable):
    """The guests of deployed ranges, from their details files."""

    NAME = 'cyris.kvm_auto.range'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(('cyris_range.yml', 'cyris_range.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        base = os.path.dirname(os.path.abspath(path))
        strict = self.get_option('strict')
        for details_file in self._details_files(base, self.get_option('details_files')):
            for entry in inventory_entries(self._load_details(details_file)):
                self._add_guest(entry, strict)

    @staticmethod
    def _details_files(base, patterns):
        """The files to read: each pattern's matches in order, each file once."""
        found = []
        for pattern in patterns:
            pattern = os.path.join(base, os.path.expanduser(to_text(pattern)))
            if glob.has_magic(pattern):
                matches = sorted(glob.glob(pattern))
            elif os.path.isfile(pattern):
                matches = [pattern]
            else:
                raise AnsibleParserError('cyris.kvm_auto.range: details_files: %s does not exist' % pattern)
            found.extend(m for m in matches if m not in found)
        return found

    def _load_details(self, details_file):
        try:
            details = plain(self.loader.load_from_file(details_file, cache='none'))
        except RangeError as exc:
            raise AnsibleParserError('cyris.kvm_auto.range: %s is not a range details file: %s' % (details_file, '; '.join(exc.errors)))
        except Exception as exc:
            raise AnsibleParserError('cyris.kvm_auto.range: %s cannot be read: %s' % (details_file, to_native(exc)))
        problem = details_problem(details)
        if problem:
            raise AnsibleParserError('cyris.kvm_auto.range: %s is not a range details file: %s' % (details_file, problem))
        return details

    def _add_guest(self, entry, strict):
        name = entry['name']
        for group in entry['groups']:
            self.inventory.add_group(group)
            self.inventory.add_host(name, group=group)
        for key, value in entry['vars'].items():
            self.inventory.set_variable(name, key, value)
        host_vars = self.inventory.get_host(name).get_vars()
        self._set_composite_vars(self.get_option('compose'), host_vars, name, strict=strict)
        self._add_host_to_composed_groups(self.get_option('groups'), host_vars, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option('keyed_groups'), host_vars, name, strict=strict)
