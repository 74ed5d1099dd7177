#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The action plugin of the same name waits and decides whether a holder is gone; this module
# makes one attempt on the task's host. The logic is in plugins/module_utils/_range_lock.py.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kvm_auto_lock
short_description: Let one operation at a time work on a range
version_added: 0.1.0
description:
  - Takes or releases a lock file on the task's host (a delegated task locks on the host it is delegated
    to), so that a second deploy, destroy or reset of the same range waits for the first one.
  - The lock records its owner, the run of C(ansible-playbook) that took it, by the controller's machine id,
    boot id and host name, the process id and start time of that C(ansible-playbook) process, the
    O(operation) and the UTC time it was taken.
  - When another run holds the lock, it waits, polling every O(poll_interval) seconds and showing one line
    when it starts waiting for a holder, until the lock is free or O(timeout) has passed; then it fails
    with one message naming the O(resource), the holder and the lock's path.
  - A lock taken from this same controller by a run that is gone (its process has ended, or the controller
    has restarted since) is stale; it is taken over at once, with a warning naming the old holder.
    A holder from another controller is never taken for gone.
author:
  - cyris.kvm_auto contributors (@cyris-kvm-auto)
extends_documentation_fragment:
  - cyris.kvm_auto.attributes
  - cyris.kvm_auto.attributes.action
  - cyris.kvm_auto.attributes.async
attributes:
  action:
    support: full
  async:
    support: none
  check_mode:
    support: full
    details: It takes and releases nothing and waits for no one; it warns when another run holds the lock.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: The same run taking the lock it holds, or releasing a lock it does not hold, changes nothing.
options:
  path:
    description:
      - The lock file on the task's host, for example C(/run/lock/cyris-kvm-auto-cr42.lock).
      - Its directory must exist; the lock is taken by linking a complete temporary file written there.
    type: path
    required: true
  state:
    description:
      - V(present) takes the lock, waiting while another run holds it.
      - V(absent) releases it when this run holds it; a missing lock, or one that another run holds (left
        in place, with a warning), changes nothing.
    type: str
    choices: [present, absent]
    default: present
  operation:
    description: What this run does to the range, recorded in the lock and shown to a run that waits for it.
    type: str
    choices: [deploy, destroy, reset]
  resource:
    description: What the lock guards, in the messages, for example C(range 42 on host_1).
    type: str
    required: true
  timeout:
    description: Seconds to wait while another run holds the lock; V(0) fails at once.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two attempts while waiting.
    type: int
    default: 5
  owner:
    description:
      - Internal, set by the action plugin from the run on the controller; a task cannot set it.
    type: dict
    required: true
  takeover:
    description:
      - Internal, set by the action plugin; a task cannot set it.
      - The holder whose run the controller found gone; its lock, and only that one, is replaced.
    type: dict
notes:
  - The role C(cyris.kvm_auto.kvm_auto_range) takes the lock of the controller right after planning and the
    lock of each KVM host after reaching it, and releases them in an C(always) section.
seealso:
  - module: cyris.kvm_auto.kvm_auto_vm
'''

EXAMPLES = r'''
- name: Take the lock of range 42 on each KVM host
  cyris.kvm_auto.kvm_auto_lock:
    path: /run/lock/cyris-kvm-auto-cr42.lock
    operation: deploy
    resource: range 42 on {{ inventory_hostname }}
    timeout: 3600

- name: Release it
  cyris.kvm_auto.kvm_auto_lock:
    path: /run/lock/cyris-kvm-auto-cr42.lock
    state: absent
    resource: range 42 on {{ inventory_hostname }}

- name: Fail at once when another run works on range 42 from this controller
  cyris.kvm_auto.kvm_auto_lock:
    path: /run/lock/cyris-kvm-auto-cr42.lock
    operation: reset
    resource: range 42
    timeout: 0
  delegate_to: localhost
'''

RETURN = r'''
owner:
  description: The owner recorded in the lock, when this run holds it.
  returned: success and O(state=present)
  type: dict
  sample: {"operation": "deploy", "controller": "ctl", "machine_id": "0f3c...", "boot_id": "5d2e...",
           "pid": 4242, "pid_start": 1244482, "since": "2026-12-01T12:00:00Z"}
holder:
  description:
    - The other run that holds the lock, in the shape of RV(owner), when the task fails on the O(timeout),
      in check mode, and when a release leaves its lock in place.
    - >-
      A file that is no lock of this module shows as C({"unreadable": true}), and is never taken for gone.
  returned: when another run holds the lock
  type: dict
replaced:
  description: The holder whose run was gone and whose lock was taken over.
  returned: when a stale lock was taken over
  type: dict
waited:
  description: Seconds from the first attempt until this run held the lock, or until it gave up.
  returned: O(state=present)
  type: int
  sample: 0
msg:
  description: The failure, naming the resource, the holder and the lock's path.
  returned: failure
  type: str
  sample: >-
    range 42 on host_1 is locked by the deploy run (pid 4242 on controller ctl, since 2026-12-01 12:00:00 UTC):
    lock /run/lock/cyris-kvm-auto-cr42.lock, waited 3600s; if that run is gone, remove the file and run again
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_lock import (
    LockError, TASK_ARGUMENT_SPEC, TASK_REQUIRED_IF, release, take)


def main():
    module = AnsibleModule(
        argument_spec=dict(TASK_ARGUMENT_SPEC, owner={'type': 'dict', 'required': True}, takeover={'type': 'dict'}),
        required_if=TASK_REQUIRED_IF,
        supports_check_mode=True)
    params = module.params
    try:
        if params['state'] == 'present':
            taken, changed, holder = take(params['path'], params['owner'], params['takeover'], module.check_mode)
            module.exit_json(changed=changed, taken=taken, holder=holder)
        changed, holder = release(params['path'], params['owner'], module.check_mode)
        module.exit_json(changed=changed, holder=holder)
    except LockError as error:
        module.fail_json(msg='%s: %s' % (params['resource'], error))


if __name__ == '__main__':
    main()
