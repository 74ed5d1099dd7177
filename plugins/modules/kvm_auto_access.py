#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kvm_auto_access
short_description: Keep the trainee accounts, passwords and ports of a CyRIS range, and its notification file
version_added: 0.1.0
description:
  - Runs on the controller. For each instance of a range (one entry of O(entries) per instance, for its entry point
    guest) it keeps a trainee account with a random password and a port of the instance's KVM host that leads to
    the entry point's SSH, as CyRIS does; it returns the accounts with password hashes, for the guests' identities.
  - The state file O(state_file) records them, passwords included, and is the one source of truth. The
    notification file O(notification_file) is written from it in the shape of CyRIS's
    C(range_notification-cr<id>.txt), with a C(Login) line (C(ssh ACCOUNT@ADDRESS -p PORT)) and a C(Password) line
    for each instance.
    Both files have mode C(0600) from their creation on; they are written atomically (a temporary file in the
    same directory, renamed) and only when their content or mode differs.
  - An instance keeps its recorded password and port while its guest and KVM host stay the same (and its port
    stays within O(ports)), so a rerun changes nothing. Any other instance gets a new password and the lowest port
    of O(ports) that its KVM host does not listen on and that no other instance of the range has (unique across the
    range, so two inventory hosts that are one machine never share a port). Instances no longer in O(entries) are
    dropped from both files.
  - Every problem (a recorded port that another program now listens on, too few free ports on a host, an entry
    or a state file that is not right) is reported at once, in C(errors), before anything is written.
  - No password is taken as an option, put in a message, the diff or the returned values.
author:
  - cyris.kvm_auto contributors (@cyris-kvm-auto)
extends_documentation_fragment:
  - cyris.kvm_auto.attributes
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written. RV(accounts) holds the real hash of each recorded password; an instance that would get
        a new password gets the placeholder hash C($6$checkmode$not.a.real.hash...), well formed so that the
        guests' identities can still be compared, and the hash of no password.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  state:
    description:
      - V(present) keeps the access of the instances of O(entries) and writes both files.
      - V(absent) removes both files; missing files are no change.
    type: str
    choices: [present, absent]
    default: present
  range_id:
    description: The range's id, recorded in the state file and named in the notification and in messages.
    type: str
    required: true
  state_file:
    description:
      - The state file on the controller (for the range role C(range_access-cr<id>.yml)), mode C(0600).
      - Its directory must exist (in check mode it may not exist yet).
      - Removing it gives every trainee a new password, and every instance a new port, on the next run.
    type: path
    required: true
  notification_file:
    description:
      - The notification file on the controller (for the range role C(range_notification-cr<id>.txt)), mode C(0600).
      - Its directory must exist (in check mode it may not exist yet).
    type: path
    required: true
  ports:
    description:
      - The ports of the KVM hosts to choose from, V(FIRST-LAST) (or one port), between 1024 and 65535 (QEMU listens
        on them unprivileged).
      - Each KVM host gives its instances ports of this range on its own.
    type: str
    default: 60000-65000
  password_length:
    description: Length of new passwords, between 10 and 128; a recorded password is kept as it is.
    type: int
    default: 16
  entries:
    description:
      - One per instance of the range, for its entry point guest; not used with O(state=absent).
    type: list
    elements: dict
    default: []
    suboptions:
      instance:
        description: The instance's number; the notification lists the instances in this order.
        type: int
        required: true
      guest:
        description: The entry point guest (its libvirt domain name).
        type: str
        required: true
      host:
        description: The KVM host the guest runs on; a key of O(hosts).
        type: str
        required: true
      address:
        description: The address or host name of the KVM host that trainees connect to.
        type: str
        required: true
      account:
        description: The trainee account's name (such as V(trainee01)).
        type: str
        required: true
      sudo:
        description: Whether the trainee account may use sudo (as CyRIS's trainees do); returned in RV(accounts).
        type: bool
        default: true
  hosts:
    description:
      - For each KVM host of O(entries), what it showed just before this task.
      - C(listening) is the list of TCP ports it listens on, C(running) the list of the libvirt domains running there.
      - A recorded port that its host listens on while the instance's guest is not running there is in use by
        another program, an error.
    type: dict
    default: {}
seealso:
  - module: cyris.kvm_auto.kvm_auto_vm
'''

EXAMPLES = r'''
- name: Keep the trainee access of range 42
  cyris.kvm_auto.kvm_auto_access:
    range_id: "42"
    state_file: /var/lib/cyris-kvm-auto/ranges/range_access-cr42.yml
    notification_file: /var/lib/cyris-kvm-auto/ranges/range_notification-cr42.txt
    ports: 60000-65000
    entries:
      - {instance: 1, guest: desktop_cr42_1_1, host: host_1, address: 192.0.2.10, account: trainee01}
      - {instance: 2, guest: desktop_cr42_2_1, host: host_1, address: 192.0.2.10, account: trainee02}
    hosts:
      host_1: {listening: [22, 60000], running: [desktop_cr42_1_1]}
  delegate_to: localhost
  register: access
  # The result holds password hashes.
  no_log: true

- name: Remove the files of range 42
  cyris.kvm_auto.kvm_auto_access:
    state: absent
    range_id: "42"
    state_file: /var/lib/cyris-kvm-auto/ranges/range_access-cr42.yml
    notification_file: /var/lib/cyris-kvm-auto/ranges/range_notification-cr42.txt
  delegate_to: localhost
'''

RETURN = r'''
accounts:
  description:
    - Entry point guest to its trainee account, C(name), C(password_hash) (SHA-512 crypt, C($6$SALT$HASH)) and C(sudo).
    - In check mode an instance that would get a new password has a placeholder hash (see the check_mode attribute).
    - Empty with O(state=absent).
  returned: always
  type: dict
  sample:
    desktop_cr42_1_1: {name: trainee01, password_hash: "$6$Gq8.../...", sudo: true}
access:
  description:
    - Each instance's access, in instance order, without the password.
    - Empty with O(state=absent).
  returned: always
  type: list
  elements: dict
  contains:
    instance:
      description: The instance's number.
      type: int
    guest:
      description: The entry point guest.
      type: str
    host:
      description: The KVM host.
      type: str
    address:
      description: The address trainees connect to.
      type: str
    port:
      description: The port of the KVM host that leads to the guest's SSH.
      type: int
    account:
      description: The trainee account.
      type: str
  sample:
    - {instance: 1, guest: desktop_cr42_1_1, host: host_1, address: 192.0.2.10, port: 60000, account: trainee01}
errors:
  description: Every problem found, when the module fails; C(msg) joins them.
  returned: failure
  type: list
  elements: str
  sample:
    - "instance 1 (desktop_cr42_1_1): port 60000 on host_1 is in use by another program: free it or choose other
       ports (kvm_auto_range_trainee_ports)"
diff:
  description:
    - C(instances) before and after, each with C(password) V(recorded) or V(new) in place of the password, and
      C(files), the state and notification files' mode and whether their content is up to date.
  returned: in diff mode
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_access import AccessRun


def argument_spec():
    entry = dict(
        instance=dict(type='int', required=True),
        guest=dict(type='str', required=True),
        host=dict(type='str', required=True),
        address=dict(type='str', required=True),
        account=dict(type='str', required=True),
        sudo=dict(type='bool', default=True),
    )
    return dict(
        state=dict(type='str', default='present', choices=['present', 'absent']),
        range_id=dict(type='str', required=True),
        state_file=dict(type='path', required=True),
        notification_file=dict(type='path', required=True),
        ports=dict(type='str', default='60000-65000'),
        # The length of a password, not one.
        password_length=dict(type='int', default=16, no_log=False),
        entries=dict(type='list', elements='dict', options=entry, default=[]),
        hosts=dict(type='dict', default={}),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    AccessRun(module).run()


if __name__ == '__main__':
    main()
