# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The options of one guest: kvm_auto_vm's own, and those of each guest of kvm_auto_vms.

The documentation of these options is kvm_auto_vm's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_access import (
    DEFAULT_GUEST_PORT, DEFAULT_LISTEN, DEFAULT_SUBNET)

# The trainee's line is added to the identity, so one comes with the other.
REQUIRED_BY = {'trainee': 'identity'}


def argument_spec():
    return dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='running', choices=['present', 'running', 'stopped', 'absent', 'reset']),
        image=dict(type='path'),
        disk_mode=dict(type='str', default='overlay', choices=['overlay', 'copy']),
        disk_dir=dict(type='path'),
        disk_size=dict(type='str'),
        vcpus=dict(type='int'),
        memory=dict(type='int'),
        osinfo=dict(type='str'),
        osinfo_fallback=dict(type='str', default='linux2022'),
        networks=dict(type='list', elements='dict', options=dict(
            network=dict(type='str'),
            bridge=dict(type='str'),
            model=dict(type='str', default='virtio'),
            mac=dict(type='str'),
        )),  # exactly one of network/bridge: checked by the module, so the message names the guest
        identity=dict(type='str'),
        trainee=dict(type='dict', options=dict(
            name=dict(type='str', required=True),
            password_hash=dict(type='str', required=True, no_log=True),
            sudo=dict(type='bool', default=True),
        )),
        access=dict(type='dict', options=dict(
            port=dict(type='int', required=True),
            listen=dict(type='str', default=DEFAULT_LISTEN),
            guest_port=dict(type='int', default=DEFAULT_GUEST_PORT),
            mac=dict(type='str', required=True),
            subnet=dict(type='str', default=DEFAULT_SUBNET),
        )),
        graphics=dict(type='dict', options=dict(
            type=dict(type='str', default='vnc', choices=['vnc', 'spice', 'sdl', 'none']),
            port=dict(type='int'),
            listen=dict(type='str', default='127.0.0.1'),
        )),
        console=dict(type='str', default='pty'),
        boot=dict(type='str'),
        cpu_model=dict(type='str'),
        machine=dict(type='str'),
        firmware=dict(type='str', choices=['bios', 'efi']),
        extra_args=dict(type='list', elements='str'),
        virt_type=dict(type='str', default='kvm', choices=['kvm', 'qemu']),
        uri=dict(type='str', default='qemu:///system'),
        autostart=dict(type='bool'),
        recreate=dict(type='bool', default=False),
        wait_for=dict(type='str', default='none', choices=['none', 'console', 'agent']),
        wait_timeout=dict(type='int', default=300),
        console_pattern=dict(type='str', default='login:'),
    )
