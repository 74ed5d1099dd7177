#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kvm_auto_template_info
short_description: List the templates virt-builder offers, as kvm_auto_image sees them
version_added: 0.1.0
description:
  - Runs C(virt-builder --list --list-format json) with the same repository settings as
    M(cyris.kvm_auto.kvm_auto_image), and returns every template with its aliases, architecture,
    size and osinfo.
  - The C(cyris.kvm_auto.kvm_auto_range) role uses it to check every guest's C(image_name) and
    C(disk_size) before anything is built.
author:
  - cyris.kvm_auto contributors (@cyris-kvm-auto)
requirements:
  - virt-builder (libguestfs-tools or guestfs-tools)
extends_documentation_fragment:
  - cyris.kvm_auto.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  virt_builder_config_dir:
    description:
      - A directory holding C(virt-builder/repos.d/*.conf); virt-builder then reads only those repositories
        (it is set as both C(VIRT_BUILDER_DIRS) and C(XDG_CONFIG_HOME)).
      - When omitted, virt-builder's own configuration is used.
    type: path
  sources:
    description: Extra index URLs, as C(--source).
    type: list
    elements: str
    default: []
  check_signature:
    description: Check the GPG signatures of the indexes.
    type: bool
    default: true
  environment:
    description: Extra environment for virt-builder, for example C(LIBGUESTFS_BACKEND).
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: List the templates of the offline repository
  cyris.kvm_auto.kvm_auto_template_info:
    virt_builder_config_dir: /var/lib/cyris-kvm-auto/templates/config
    check_signature: false
  register: templates

- name: Show their names
  ansible.builtin.debug:
    msg: "{{ templates.templates | map(attribute='name') }}"
'''

RETURN = r'''
templates:
  description: Every template of the configured sources.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The template name (C(os-version)), for O(cyris.kvm_auto.kvm_auto_image#module:image_name).
      type: str
      sample: debian-12
    aliases:
      description: Other names of the template.
      type: list
      elements: str
      sample: [bookworm]
    arch:
      description: The architecture.
      type: str
      sample: x86_64
    size:
      description: The template's virtual disk size in bytes; a smaller C(disk_size) cannot be built.
      type: int
      sample: 6442450944
    osinfo:
      description: The libosinfo short id.
      type: str
      sample: debian12
    full_name:
      description: The descriptive name.
      type: str
    hidden:
      description: Whether the index hides it from listings.
      type: bool
  sample: [{name: debian-12, aliases: [], arch: x86_64, size: 6442450944, osinfo: debian12}]
sources:
  description: The index URLs virt-builder read.
  returned: success
  type: list
  elements: str
commands:
  description: The command that ran.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cyris.kvm_auto.plugins.module_utils._template_info import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            virt_builder_config_dir=dict(type='path'),
            sources=dict(type='list', elements='str', default=[]),
            check_signature=dict(type='bool', default=True),
            environment=dict(type='dict', default={}),
        ),
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == '__main__':
    main()
