#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kvm_auto_guest_exec
short_description: Run programs in a guest through its qemu-guest-agent, once per guest disk
version_added: 0.1.0
description:
  - Runs on the KVM host of a running libvirt domain and runs O(programs) in the guest, in order, through the
    guest's qemu-guest-agent (C(guest-exec)); no network or SSH into the guest is involved. It is how CyRIS
    C(execute_program) tasks with C(execute_time=after_clone), C(emulate_attack) and
    C(emulate_traffic_capture_file) run on every clone.
  - An entry of O(programs) is a program run in the guest (O(programs[].argv)), a program run for the guest in
    another guest of the same host (O(programs[].argv) and O(programs[].guest), such as the login attempts of
    an attack against it), or a file written in the guest (O(programs[].file)).
  - Waits first for the agent to answer C(guest-ping), for at most O(agent_timeout) seconds (the guest may have
    just booted).
  - A file in the guest, O(marker), records that the programs ran. It holds RV(digest) (the sha256 of the
    entries, that is of the programs' C(argv) lists, the other guest of those that run elsewhere, and each
    file's path, mode and content) and a newline. When it holds that, nothing runs; when it is missing or holds
    anything else, all programs run, and after the last one succeeded the marker is written (its directory made
    with C(mkdir -p)). The marker lives on the guest's disk, so a guest whose disk was recreated (a reset) runs
    the programs again.
  - The first program that exits with a status other than 0 or is killed by a signal fails the task with one
    message naming the guest, the program's O(programs[].label) and its command line, with the last lines of its
    standard error (or of its standard output when that is empty). The programs after it do not run and the
    marker is not written, so the next run starts again with the first program.
author:
  - cyris.kvm_auto contributors (@cyris-kvm-auto)
extends_documentation_fragment:
  - cyris.kvm_auto.attributes
attributes:
  check_mode:
    support: full
    details:
      - It waits for the agent and reads the marker; no program runs and nothing is written.
      - A domain that does not exist or run yet (a check-mode deploy has not made it) is reported as a change, since
        its programs would run.
  diff_mode:
    support: full
    details: The marker's content before (empty when it is missing) and after.
  idempotent:
    support: full
    details: The second run finds the marker holding RV(digest) and runs nothing.
options:
  name:
    description: The libvirt domain; it must exist and run.
    type: str
    required: true
  uri:
    description: The libvirt connection URI.
    type: str
    default: qemu:///system
  programs:
    description:
      - The programs to run, in order. An empty list does nothing and reports no change.
      - Changing a program's C(argv), or their order, changes RV(digest), so all of them run again.
      - Each entry has O(programs[].argv) or O(programs[].file), not both.
    type: list
    elements: dict
    required: true
    suboptions:
      argv:
        description:
          - The program and its arguments, passed as they are (no shell); the first word is a path or a command
            that the agent looks up in its C(PATH).
          - For a shell command line, run a shell, for example V([/bin/sh, -c, "echo ok > /tmp/ok"]).
        type: list
        elements: str
      guest:
        description:
          - Another libvirt domain of the same O(uri) to run O(programs[].argv) in, instead of O(name); the module
            waits for its agent too, for at most O(agent_timeout) seconds.
          - The marker stays in O(name), so the entry runs once per disk of O(name).
        type: str
      file:
        description:
          - A file to write in the guest through the agent (C(guest-file-write)); its directory is made with
            C(mkdir -p), an existing file is replaced, and its mode is then set with C(chmod).
        type: dict
        suboptions:
          path:
            description: The absolute path of the file in the guest.
            type: str
            required: true
          content:
            description: The file's bytes, in base64.
            type: str
            required: true
          mode:
            description: Its mode, in octal.
            type: str
            default: '0644'
      label:
        description:
          - What the program is, in messages and RV(results), for example
            V(guest_settings[1] (id=srv\).tasks[2].execute_program).
        type: str
        required: true
  marker:
    description: The absolute path of the marker file in the guest.
    type: str
    default: /var/lib/cyris-kvm-auto/after-clone.done
  timeout:
    description:
      - Seconds each program may run. A program still running then fails the task.
      - The agent cannot stop a program, so it keeps running in the guest; the message gives its pid there.
    type: int
    default: 1800
  agent_timeout:
    description: Seconds to wait for the agent to answer C(guest-ping) before failing.
    type: int
    default: 600
notes:
  - The entries should be safe to run again. After a failure (or a timeout) the next run starts again with the
    first program, and a reset runs them all again in the fresh guest.
  - The agent runs the programs as its own user (root), with its environment; a program's standard input is empty.
  - Each program's output is captured by the agent and returned only when the program has ended.
requirements:
  - libvirt-python on the KVM host
  - qemu-guest-agent running in the guest, on the virtio channel C(org.qemu.guest_agent.0)
seealso:
  - module: cyris.kvm_auto.kvm_auto_vm
'''

EXAMPLES = r'''
- name: Run the after-clone programs of guest desktop_cr42_1_1
  cyris.kvm_auto.kvm_auto_guest_exec:
    name: desktop_cr42_1_1
    programs:
      - label: guest_settings[1] (id=desktop).tasks[0].execute_program
        argv: [/bin/sh, /opt/setup/after_clone.sh, "42"]
      - label: guest_settings[1] (id=desktop).tasks[1].execute_program
        argv: [systemctl, restart, apache2]
    timeout: 600
  delegate_to: host_1
'''

RETURN = r'''
digest:
  description: The sha256 (hex) of the entries of O(programs), in order; the marker holds it once they ran.
  returned: always
  type: str
  sample: 3b1f9c0e6c1d2f6a1e0b8d5c4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a59
results:
  description:
    - One entry per program that ran, in order, up to and with the one that failed.
    - Empty when nothing ran (the marker held RV(digest), in check mode, with no O(programs)).
  returned: always
  type: list
  elements: dict
  contains:
    label:
      description: The entry's O(programs[].label).
      type: str
    argv:
      description: The program's O(programs[].argv) (a program only).
      type: list
      elements: str
    guest:
      description: The O(programs[].guest) it ran in (a program run in another guest only).
      type: str
    rc:
      description: Its exit status; null when a signal ended it (a program only).
      type: int
    signal:
      description: The signal that ended it, or null (a program only).
      type: int
    stdout:
      description:
        - Its standard output, the last 64 KiB of it, decoded as UTF-8 (invalid bytes replaced) (a program only).
      type: str
    stderr:
      description:
        - Its standard error, the last 64 KiB of it, decoded as UTF-8 (invalid bytes replaced) (a program only).
      type: str
    path:
      description: The file written (a file only).
      type: str
    size:
      description: Its size in bytes (a file only).
      type: int
    mode:
      description: Its mode (a file only).
      type: str
  sample:
    - {label: "guest_settings[1] (id=desktop).tasks[0].execute_program",
       argv: [/bin/sh, /opt/setup/after_clone.sh, "42"], rc: 0, signal: null, stdout: "configured\n", stderr: ""}
    - {label: "guest_settings[1] (id=desktop).tasks[2].emulate_traffic_capture_file[0]",
       path: /home/trainee/traffic.pcap, size: 37119, mode: "0644"}
diff:
  description: The marker's content before (empty when it is missing or could not be read) and after.
  returned: when O(programs) is not empty
  type: dict
  sample: {before: "", after: "3b1f9c0e6c1d2f6a1e0b8d5c4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a59\n",
           before_header: /var/lib/cyris-kvm-auto/after-clone.done,
           after_header: /var/lib/cyris-kvm-auto/after-clone.done}
msg:
  description: The failure, naming the guest, the program's label and command line, and the end of its output.
  returned: failure
  type: str
  sample: "guest desktop_cr42_1_1: guest_settings[1] (id=desktop).tasks[0].execute_program:
    /bin/sh /opt/setup/after_clone.sh 42 exited with status 2: /opt/setup/after_clone.sh: 3: apache2ctl: not found"
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_exec import (
    LIBVIRT_IMPORT_ERROR, GuestExecError, guest_exec)


def argument_spec():
    program = dict(
        argv=dict(type='list', elements='str'),
        label=dict(type='str', required=True),
        guest=dict(type='str'),
        file=dict(type='dict', options=dict(
            path=dict(type='str', required=True),
            content=dict(type='str', required=True),
            mode=dict(type='str', default='0644'),
        )),
    )
    return dict(
        name=dict(type='str', required=True),
        uri=dict(type='str', default='qemu:///system'),
        programs=dict(type='list', elements='dict', options=program, required=True),
        marker=dict(type='str', default='/var/lib/cyris-kvm-auto/after-clone.done'),
        timeout=dict(type='int', default=1800),
        agent_timeout=dict(type='int', default=600),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    name = module.params['name']
    if LIBVIRT_IMPORT_ERROR:
        module.fail_json(msg='guest %s: %s' % (name, missing_required_lib('libvirt-python')),
                         exception=LIBVIRT_IMPORT_ERROR)
    try:
        result = guest_exec(module.params, module.check_mode)
    except GuestExecError as error:
        module.fail_json(msg='guest %s: %s' % (name, error), results=error.results)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
