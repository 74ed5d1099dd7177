#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kvm_auto_image
short_description: Build a CyRIS guest image with virt-builder, tasks baked in
version_added: 0.1.0
description:
  - Builds a disk image from a virt-builder template and runs the CyRIS guest tasks inside it
    (accounts, packages, files, programs, firewall rules), all in one virt-builder run, so one
    appliance boot customises the whole image.
  - The image is built into a temporary file beside O(path) and renamed into place only when the
    build succeeded. The inputs are recorded in C(PATH.kvm-auto.json) as a key (a SHA-256 over the
    template revision and checksum, size, format, host name, every task, the content of every copied
    file and rules file, and each password as a salted PBKDF2 hash) plus a summary without secrets.
    A rerun with the same inputs changes nothing and does not read the image.
  - Concurrent runs on the same O(path) serialise on C(PATH.lock); the later one finds the image
    up to date.
  - Passwords reach virt-builder only through files of mode 0600 in a private temporary directory
    that is removed afterwards; they never appear on a command line, in the state file or in output.
  - When no root password is given the root password is disabled (virt-builder would otherwise set
    a random one).
  - Every image gets C(/usr/local/sbin/kvm-auto-identity) and the enabled C(kvm-auto-identity.service), which at
    every boot apply the identity that C(cyris.kvm_auto.kvm_auto_vm) puts in the domain definition with its option
    C(identity) (host name, static addresses, default route, forwarding and its iptables rules). A guest
    without one keeps the image's own settings. A new version of the service rebuilds the image.
author:
  - cyris.kvm_auto contributors (@cyris-kvm-auto)
requirements:
  - virt-builder (guestfs-tools or libguestfs-tools) on the host that runs the module
extends_documentation_fragment:
  - cyris.kvm_auto.attributes
attributes:
  check_mode:
    support: full
    details: Check mode lists the template and reads the state file; it builds nothing.
  diff_mode:
    support: full
    details: The diff compares the recorded input summary with the requested one; passwords show as V(********).
  idempotent:
    support: partial
    details: Not with O(rebuild=always), which builds on every run.
options:
  name:
    description:
      - Label of the image in messages. Defaults to the file name of O(path).
    type: str
  path:
    description:
      - Destination file of the image. Its directory must exist.
    type: path
    required: true
  state:
    description:
      - V(present) builds the image when needed; V(absent) removes the image, its state file and its lock.
    type: str
    choices: [present, absent]
    default: present
  image_name:
    description:
      - virt-builder template name (or alias), as C(virt-builder --list) shows it, for example V(debian-12).
      - Required when O(state=present).
    type: str
  disk_size:
    description:
      - Virtual size of the disk in the CyRIS form, for example V(20G) or V(512M); virt-builder grows the
        file systems to fill it. It cannot be smaller than the template.
      - Defaults to the template's size.
    type: str
  format:
    description:
      - Image format.
    type: str
    choices: [qcow2, raw]
    default: qcow2
  hostname:
    description:
      - Host name set in the image.
    type: str
  root_password:
    description:
      - Password of root. When not given (and no task sets one) the root password is disabled.
    type: str
  tasks:
    description:
      - CyRIS guest tasks, in the CyRIS form, run in order inside the image at build time.
      - Each list item holds exactly one task type mapped to a list of parameter maps.
      - Passwords are applied after all other operations, to the final account name; a password given
        to an account that a later task renames ends up on the new name.
      - Build-time only; V(emulate_attack) and V(emulate_traffic_capture_file) are rejected with an error saying
        that the range runs them after boot, as is O(tasks[].execute_program[].execute_time=after_clone). O(tasks[].emulate_malware) is baked into the image
        as a service that starts at boot.
      - Adding an account that exists (V(root), or one added or renamed to by an earlier task), renaming onto
        such a name, and changing a name that an earlier task renamed away are errors found before the build.
      - The same rules apply when the C(cyris.kvm_auto.kvm_auto_range) role checks a range description, so a
        description that passes that check is not refused here.
    type: list
    elements: dict
    default: []
    suboptions:
      add_account:
        description:
          - Accounts to create (C(useradd -m -s /bin/bash)), with a home directory.
        type: list
        elements: dict
        suboptions:
          account:
            description:
              - Account name, as C(useradd) accepts it by default on Debian and RHEL, without shell text
                (C(^[a-z_][a-z0-9_.-]{0,31}$)), for example V(trainee) or V(first.last).
            type: str
            required: true
          passwd:
            description: Password of the account.
            type: str
            required: true
          full_name:
            description: Full name (GECOS field); one line without V(:) or V(,).
            type: str
      modify_account:
        description:
          - Changes to existing accounts (of the template or added by an earlier task).
          - A rename also renames the account's same-named group and moves C(/home/OLD) to C(/home/NEW).
        type: list
        elements: dict
        suboptions:
          account:
            description: Current account name (V(root), an account of the template, or one added by an earlier task).
            type: str
            required: true
          new_account:
            description: New account name, a free name that follows the rule of O(tasks[].add_account[].account).
            type: str
          new_passwd:
            description: New password.
            type: str
      install_package:
        description:
          - Packages to install with the guest's package manager. The appliance then needs the network;
            without any package task the build runs with C(--no-network).
        type: list
        elements: dict
        suboptions:
          name:
            description: Package names separated by spaces; each of letters, digits and C(+._:~-), at most 128.
            type: str
            required: true
          package_manager:
            description:
              - Package manager of the guest. Only used to choose how to pin O(tasks[].install_package[].version)
                (V(name=version) for apt and zypper, V(name-version) for yum and dnf); by default it follows the
                template's OS. virt-builder always uses the guest's own package manager.
            type: str
            choices: [apt, apt-get, yum, dnf, zypper]
          version:
            description: Version to install, applied to each package of the task.
            type: str
      copy_content:
        description:
          - Files or directories to copy from the controller into the image. As in CyRIS, O(tasks[].copy_content[].dst)
            is a directory (created when missing) and the source lands in it under its own name.
        type: list
        elements: dict
        suboptions:
          src:
            description: Absolute path of a file or directory on the controller (no V(:)).
            type: path
            required: true
          dst:
            description: Absolute directory in the guest (no V(:)).
            type: str
            required: true
      execute_program:
        description:
          - Programs to run inside the image at build time, as C(INTERPRETER PROGRAM ARGS...).
        type: list
        elements: dict
        suboptions:
          program:
            description: Path of the program in the guest (copy it in with an earlier copy_content task).
            type: str
            required: true
          interpreter:
            description: Interpreter, for example V(bash) or V(python3).
            type: str
            required: true
          args:
            description: Arguments, split like a shell would split words (no expansion, no redirection).
            type: str
          execute_time:
            description:
              - V(before_clone) only; V(after_clone) is refused, since nothing is cloned at build time.
              - The role R(cyris.kvm_auto.kvm_auto_range,ansible_collections.cyris.kvm_auto.kvm_auto_range_role) runs such
                programs on each clone after its first boot.
            type: str
            choices: [before_clone, after_clone]
            default: before_clone
      firewall_rules:
        description:
          - iptables rules files on the controller. Their C(-A ...) lines are wrapped into a C(*filter) table
            (as CyRIS did), several files in task order; a complete C(iptables-save) file is used as it is.
          - The result is installed as C(/etc/iptables/rules.v4) and loaded at boot by the systemd unit
            C(kvm-auto-iptables.service); the image must contain C(/usr/sbin/iptables-restore)
            (install the C(iptables) package in an install_package task), else the build fails.
        type: list
        elements: dict
        suboptions:
          rule:
            description: Absolute path of the rules file on the controller.
            type: path
            required: true
      emulate_attack:
        description:
          - Rejected with an error; it acts on running clones, so the C(cyris.kvm_auto.kvm_auto_range) role runs it
            after their first boot.
        type: raw
      emulate_malware:
        description:
          - Dummy malware, baked into the image as a program named O(tasks[].emulate_malware[].name) in
            C(/usr/local/libexec/kvm-auto-malware) and a systemd unit C(kvm-auto-malware-NAME.service) enabled
            at boot, so every guest of the image runs it from its first boot.
          - The process is named O(tasks[].emulate_malware[].name) as C(ps -e), C(top) and C(pgrep -x) show it.
          - V(dummy_calculation) spins in a POSIX sh loop at about O(tasks[].emulate_malware[].cpu_utilization)
            percent of one CPU (every second, busy for that many hundredths, then asleep); V(port_listening)
            is OpenBSD netcat, under that name, listening on TCP O(tasks[].emulate_malware[].port). That one
            needs C(nc.openbsd) in the image (install the C(netcat-openbsd) package in an install_package task,
            before or after), else the build fails.
          - Two tasks of one image may not share a name or a port.
        type: list
        elements: dict
        suboptions:
          name:
            description:
              - Process name, at most 15 characters (the kernel's limit) of letters, digits, V(_), V(.) and V(-),
                not V(.) or V(-) first (C(^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$)), for example V(cryptominer).
            type: str
            required: true
          mode:
            description: What the process does.
            type: str
            required: true
            choices: [dummy_calculation, port_listening]
          cpu_utilization:
            description:
              - CPU share in percent of one CPU, a whole number from 1 to 100.
              - Required with O(tasks[].emulate_malware[].mode=dummy_calculation), refused with the other mode.
            type: int
          port:
            description:
              - TCP port to listen on (all addresses), from 1 to 65535.
              - Required with O(tasks[].emulate_malware[].mode=port_listening), refused with the other mode.
            type: int
      emulate_traffic_capture_file:
        description:
          - Rejected with an error; it acts on running clones, so the C(cyris.kvm_auto.kvm_auto_range) role runs it
            after their first boot.
        type: raw
  require_forwarding:
    description:
      - Whether guests of this image forward traffic between networks (their identity says C(forwarding on)).
      - The build then checks, after every task, that the image has iptables, and fails naming the image
        otherwise (add an O(tasks[].install_package) task for V(iptables)).
      - A change of it rebuilds the image.
    type: bool
    default: false
  require_ssh:
    description:
      - Whether guests of this image are entry points that trainees reach over SSH, or the targets of
        C(emulate_attack) login attempts.
      - The build then checks, after every task, that the image has an SSH server (C(/usr/sbin/sshd)), and
        fails naming the image otherwise (add an O(tasks[].install_package) task for V(openssh-server)).
      - A change of it rebuilds the image.
    type: bool
    default: false
  sources:
    description:
      - Extra virt-builder source URLs (C(--source)), read before the configured repositories.
    type: list
    elements: str
    default: []
  virt_builder_config_dir:
    description:
      - A directory holding C(virt-builder/repos.d/*.conf). When set, C(VIRT_BUILDER_DIRS) and
        C(XDG_CONFIG_HOME) point there, so virt-builder reads only those repositories.
    type: path
  cache:
    description:
      - Whether virt-builder keeps downloaded templates in its cache.
    type: bool
    default: true
  cache_dir:
    description:
      - virt-builder cache directory (C(--cache)); used when O(cache=true). Defaults to virt-builder's own.
    type: path
  check_signature:
    description:
      - Whether virt-builder checks the signature of the index and templates. A local unsigned
        repository needs V(false).
    type: bool
    default: true
  arch:
    description:
      - Architecture of the template.
    type: str
    default: x86_64
  environment:
    description:
      - Extra environment for virt-builder and libguestfs, for example V(LIBGUESTFS_BACKEND=direct) and
        V(LIBGUESTFS_BACKEND_SETTINGS=force_tcg) on hosts without working KVM.
    type: dict
    default: {}
  rebuild:
    description:
      - V(changed) builds when the image is missing, when any input changed, or when the image file is not the
        one recorded at build time. V(never) builds only a missing image. V(always) builds on every run.
    type: str
    choices: [never, changed, always]
    default: changed
  lock_timeout:
    description:
      - Seconds to wait for another run on the same O(path) to finish.
    type: int
    default: 3600
notes:
  - Templates come from virt-builder repositories; C(cyris.kvm_auto.kvm_auto_vm) boots the image.
  - The image file is created with mode 0600 because the guest's C(/etc/shadow) is inside.
  - The CyRIS OS type in RV(os_type) follows the rule documented there.
seealso:
  - name: virt-builder
    description: The virt-builder manual.
    link: https://libguestfs.org/virt-builder.1.html
'''

EXAMPLES = r'''
- name: Build the desktop image of a range
  cyris.kvm_auto.kvm_auto_image:
    path: /var/lib/cyris-kvm-auto/images/desktop.qcow2
    image_name: debian-12
    disk_size: 10G
    hostname: desktop
    virt_builder_config_dir: /var/lib/cyris-kvm-auto/templates/config
    check_signature: false
    tasks:
      - add_account:
          - account: daniel
            passwd: "{{ vault_daniel_password }}"
            full_name: Daniel Trainee
      - modify_account:
          - account: daniel
            new_account: trainee
      - copy_content:
          - src: /srv/range/files/flag.txt
            dst: /home/trainee
  register: desktop_image

- name: Remove it
  cyris.kvm_auto.kvm_auto_image:
    path: /var/lib/cyris-kvm-auto/images/desktop.qcow2
    state: absent
'''

RETURN = r'''
path:
  description: Absolute path of the image.
  returned: always
  type: str
  sample: /var/lib/cyris-kvm-auto/images/desktop.qcow2
format:
  description: Image format.
  returned: always
  type: str
  sample: qcow2
virtual_size:
  description: Virtual disk size in bytes (the planned size in check mode before a build).
  returned: when state is present
  type: int
  sample: 10737418240
checksum:
  description:
    - V(sha256:HEX) of the image file, computed once when it was built and read from the state file afterwards.
    - V(null) in check mode when a build is due, and for an image this module did not build.
  returned: when state is present
  type: str
  sample: sha256:5d41402abc4b2a76b9719d911017c592ae5d41402abc4b2a76b9719d911017c5
osinfo:
  description: The template's libosinfo short id from the repository index, for C(virt-install --osinfo).
  returned: when state is present
  type: str
  sample: debian12
os_type:
  description:
    - CyRIS C(basevm_os_type) derived from RV(osinfo). The distribution part followed by the major version, joined
      with V(_) (V(debian12) -> V(debian_12), V(ubuntu20.04) -> V(ubuntu_20), V(fedora38) -> V(fedora_38)); CentOS and
      Windows with a dot as CyRIS writes them (V(centos7.0) -> V(centos.7), V(win10) -> V(windows.10)).
  returned: when state is present
  type: str
  sample: debian_12
key:
  description:
    - The key of the requested inputs (of the existing image when O(rebuild=never) kept an outdated one).
    - Passwords enter it as hashes salted with the salt of the state file; in check mode before the first build
      there is no salt yet, so that key is provisional.
  returned: when state is present
  type: str
  sample: 0f4e1c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d
rebuilt:
  description: Whether this run built the image.
  returned: always
  type: bool
  sample: true
template:
  description: The template used.
  returned: when state is present
  type: dict
  contains:
    name:
      description: Template name.
      type: str
      sample: debian-12
    revision:
      description: Template revision from the index (V(null) when no index could be read).
      type: str
      sample: '1'
    checksum:
      description: Template checksum from the index, V(sha512:HEX), or V(null).
      type: str
      sample: sha512:0a1b2c
commands:
  description: Commands run, with every secret shown as V(********).
  returned: always
  type: list
  elements: str
  sample: ["/usr/bin/virt-builder --list --list-format json --no-check-signature"]
operations:
  description:
    - The virt-builder customise operations of the build (the C(--commands-from-file) lines). Passwords appear
      only as references to temporary files.
  returned: when the image was built
  type: list
  elements: str
  sample: ["hostname desktop", "run-command useradd -m -s /bin/bash daniel", "password daniel:file:/tmp/x/password-0"]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cyris.kvm_auto.plugins.module_utils._cyris_schema import DEFAULT_ARCH, task_options
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_build import run_module


# The task format is defined once, in _cyris_schema, which the range validation applies too.
TASK_OPTIONS = task_options()

ARGUMENT_SPEC = dict(
    name=dict(type='str'),
    path=dict(type='path', required=True),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    image_name=dict(type='str'),
    disk_size=dict(type='str'),
    format=dict(type='str', choices=['qcow2', 'raw'], default='qcow2'),
    hostname=dict(type='str'),
    root_password=dict(type='str', no_log=True),
    tasks=dict(type='list', elements='dict', default=[], options=TASK_OPTIONS),
    require_forwarding=dict(type='bool', default=False),
    require_ssh=dict(type='bool', default=False),
    sources=dict(type='list', elements='str', default=[]),
    virt_builder_config_dir=dict(type='path'),
    cache=dict(type='bool', default=True),
    cache_dir=dict(type='path'),
    check_signature=dict(type='bool', default=True),
    arch=dict(type='str', default=DEFAULT_ARCH),
    environment=dict(type='dict', default={}),
    rebuild=dict(type='str', choices=['never', 'changed', 'always'], default='changed'),
    lock_timeout=dict(type='int', default=3600),
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[('state', 'present', ['image_name'])],
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == '__main__':
    main()
