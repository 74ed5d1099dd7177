#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kvm_auto_vms
short_description: Bring many CyRIS guests of one libvirt/KVM host to their state at once
version_added: 0.1.0
description:
  - Does for each guest of O(guests) exactly what M(cyris.kvm_auto.kvm_auto_vm) does with the same options,
    for all of them at once in one module run on the KVM host, so that a task costs one module run for
    any number of guests (with C(async), one job and its polls).
  - The guests run concurrently, each in a thread of its own; a guest that fails does not stop the others.
  - All the guests' options are checked before any guest is looked at; a problem of any guest fails the
    module with every problem, each naming its guest, and changes nothing.
  - Fails, once every guest has finished, with one message naming each guest that failed and why; the
    results of all guests are returned all the same.
author:
  - cyris.kvm_auto contributors (@cyris-kvm-auto)
requirements:
  - libvirt-python
  - virt-install (virtinst) 3.0 or later
  - qemu-img
extends_documentation_fragment:
  - cyris.kvm_auto.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: One diff per changed guest, headed with its name.
  idempotent:
    support: full
options:
  guests:
    description:
      - The guests, each a dict of the options of M(cyris.kvm_auto.kvm_auto_vm) with their defaults and rules
        there (C(name) is required); for example V(state), V(image), V(networks), V(identity),
        V(trainee), V(wait_for).
      - The trainee's V(password_hash) is kept out of every returned value and message, as in
        M(cyris.kvm_auto.kvm_auto_vm).
      - Each name at most once. All guests start at once; give fewer per task to boot fewer at a time.
    type: list
    elements: dict
    required: true
seealso:
  - module: cyris.kvm_auto.kvm_auto_vm
'''

EXAMPLES = r'''
- name: Three guests of one base image, booted to a login prompt together
  cyris.kvm_auto.kvm_auto_vms:
    guests:
      - name: desktop_cr123_1_1
        image: /var/lib/libvirt/images/kvm-auto/desktop.qcow2
        networks: [{network: cr123-office}]
        wait_for: console
      - name: desktop_cr123_1_2
        image: /var/lib/libvirt/images/kvm-auto/desktop.qcow2
        networks: [{network: cr123-office}]
        wait_for: console
      - name: gw_cr123_1
        image: /var/lib/libvirt/images/kvm-auto/router.qcow2
        networks: [{network: cr123-office}]

- name: Put two guests back to their state right after creation, as background jobs of each host
  cyris.kvm_auto.kvm_auto_vms:
    guests:
      - {name: desktop_cr123_1_1, state: reset, wait_for: agent}
      - {name: desktop_cr123_1_2, state: reset, wait_for: agent}
  async: 900
  poll: 0
  register: reset_job
'''

RETURN = r'''
guests:
  description:
    - One result per guest, in the order of O(guests), each with the values M(cyris.kvm_auto.kvm_auto_vm)
      returns (C(name), C(changed), C(uuid), C(state), C(disks), C(interfaces), C(created), C(reset), C(access),
      C(restart_required), C(console_log), C(commands), C(diff)...); C(diff) also has C(before_header) and
      C(after_header) naming the guest.
    - A guest that failed has C(failed) and C(msg) (with C(commands) and, for a command, C(rc), C(stdout), C(stderr)).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "desktop_cr123_1_1", "changed": false, "state": "running", "created": false}]
diff:
  description: The diff of each changed guest, with C(before_header) and C(after_header) naming it.
  returned: always
  type: list
  elements: dict
msg:
  description: Each failed guest with its error, when the module fails.
  returned: failure
  type: str
  sample: "1 of 3 guests failed: guest gw_cr123_1: image /var/lib/libvirt/images/kvm-auto/router.qcow2 not found"
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_batch import apply_guests, batch_result, validate_guests
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_libvirt import LIBVIRT_IMPORT_ERROR


def argument_spec():
    return dict(
        guests=dict(type='list', elements='dict', required=True),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    guests, errors, secrets = validate_guests(module.params['guests'])
    # The hashes are masked in all the module returns, its arguments included.
    module.no_log_values.update(secrets)
    if errors:
        module.fail_json(msg='; '.join(errors), errors=errors)
    if LIBVIRT_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('libvirt-python'), exception=LIBVIRT_IMPORT_ERROR)
    result = batch_result(apply_guests(module, guests))
    if 'msg' in result:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
