#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The logic is in plugins/module_utils/_image_transfer.py (place_image).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kvm_auto_image_place
short_description: Give a received base image its final name once its checksum is verified
version_added: 0.1.0
description:
  - On the task's host, computes the sha256 of a file received under a temporary name (as the role
    C(cyris.kvm_auto.kvm_auto_range) has rsync write it) and, when it is the expected O(checksum), makes it
    mode 0600 and renames it to O(dest). A received file with another checksum is removed, and the task fails.
  - A O(dest) already there changes nothing (the role names images after their checksum), and a leftover
    O(part) beside it is removed.
author:
  - cyris.kvm_auto contributors (@cyris-kvm-auto)
extends_documentation_fragment:
  - cyris.kvm_auto.attributes
  - cyris.kvm_auto.attributes.async
attributes:
  async:
    support: full
    details: The role hashes every receiver's image at once this way.
  check_mode:
    support: full
    details: Reports a change when O(dest) is not there; reads and removes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  part:
    description: The received file, in the directory of O(dest).
    type: path
    required: true
  dest:
    description: The image's final name.
    type: path
    required: true
  checksum:
    description: The image's checksum, C(sha256:) and 64 hexadecimal digits.
    type: str
    required: true
seealso:
  - module: cyris.kvm_auto.kvm_auto_image
'''

EXAMPLES = r'''
- name: Name the received image once it is the built one
  cyris.kvm_auto.kvm_auto_image_place:
    part: /var/lib/libvirt/images/kvm-auto/.debian-12.0123456789abcdef.qcow2.part
    dest: /var/lib/libvirt/images/kvm-auto/debian-12.0123456789abcdef.qcow2
    checksum: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
'''

RETURN = r'''
dest:
  description: The image's final name.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_transfer import place_image


def main():
    module = AnsibleModule(
        argument_spec=dict(
            part=dict(type='path', required=True),
            dest=dict(type='path', required=True),
            checksum=dict(type='str', required=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    changed, error = place_image(params['part'], params['dest'], params['checksum'], module.check_mode)
    if error:
        module.fail_json(msg=error, dest=params['dest'])
    module.exit_json(changed=changed, dest=params['dest'])


if __name__ == '__main__':
    main()
