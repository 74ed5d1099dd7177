#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kvm_auto_network
short_description: Create, correct and remove an isolated libvirt network for a CyRIS topology
version_added: 0.1.0
description:
  - Defines a libvirt network that is a pure layer 2 bridge (no C(<forward>), C(<ip>), C(<dns>) or DHCP),
    so that the guests on it reach each other but not the host, and the host routes nothing between
    range networks. The host has no IPv4 address on the bridge, and libvirt sets C(disable_ipv6=1) on it.
  - With O(state=present) the network is defined, started and marked to start when the host boots.
    On later runs the defined network is compared with the options; a difference (bridge name, STP
    or forward delay, MTU, any other element such as a C(<forward>) or C(<ip>) added by hand) is shown
    in the diff and corrected by redefining the network, keeping its UUID and MAC. A network that was
    running is stopped and started again for that. Autostart off or a stopped network is corrected without
    a redefinition.
  - libvirt unplugs the ports of running guests when their network stops, and does not plug them in again
    when it starts. So the module puts every port of a running guest on this network that is off its bridge
    back on it (C(ip link set dev vnetN master BRIDGE), as libvirt does when a guest starts), reported as a
    change; this happens after its own restart, and after the network was removed or restarted behind its back.
  - Networks this module creates carry a C(<metadata>) element in the namespace
    C(https://github.com/cyris-kvm-auto/cyris.kvm_auto/network/1) recording O(owner). A network of the same
    name without it, or made for another owner, is never touched.
  - The module runs on the KVM host itself; O(uri) names a libvirt daemon on that host.
author:
  - cyris.kvm_auto contributors (@cyris-kvm-auto)
requirements:
  - libvirt-python
  - iproute2 (C(ip)), to plug guests' ports back on the bridge
extends_documentation_fragment:
  - cyris.kvm_auto.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  name:
    description: Name of the libvirt network.
    type: str
    required: true
  state:
    description:
      - V(present) defines the network as described, starts it and sets it to autostart.
      - V(absent) stops the network and undefines it; a network that does not exist is no change.
    type: str
    choices: [present, absent]
    default: present
  bridge:
    description:
      - Name of the Linux bridge libvirt creates for the network; at most 15 characters, without
        C(/), C(:), C(%) or white space.
      - A bridge name that another libvirt network uses is refused.
      - Required with O(state=present).
    type: str
  owner:
    description:
      - Who the network belongs to (for CyRIS, the range), recorded in its metadata.
      - A network of ours with another owner is refused.
      - Required with O(state=present); with O(state=absent), when given, only a network of this owner is removed.
    type: str
  mtu:
    description:
      - MTU of the bridge, between 68 and 65535.
      - When omitted, the network has no C(<mtu>) and libvirt's default applies.
    type: int
  uri:
    description: libvirt connection URI on the KVM host.
    type: str
    default: qemu:///system
seealso:
  - module: cyris.kvm_auto.kvm_auto_vm
'''

EXAMPLES = r'''
- name: The office network of instance 1 of range 123
  cyris.kvm_auto.kvm_auto_network:
    name: cr123-1-office
    bridge: kvr123-1-1
    owner: cr123

- name: Remove it
  cyris.kvm_auto.kvm_auto_network:
    name: cr123-1-office
    owner: cr123
    state: absent
'''

RETURN = r'''
name:
  description: Name of the network.
  returned: always
  type: str
  sample: cr123-1-office
bridge:
  description: Bridge of the network (in check mode, the one it would have); null when it is absent.
  returned: always
  type: str
  sample: kvr123-1-1
active:
  description: Whether the network is running after the module (in check mode, whether it would be).
  returned: always
  type: bool
autostart:
  description: Whether the network starts when the host boots (in check mode, whether it would).
  returned: always
  type: bool
uuid:
  description: UUID of the network; null when it does not exist (or would be created in check mode).
  returned: always
  type: str
  sample: 6e391c44-7289-4888-8e43-df1ae86d9aa2
diff:
  description:
    - The network before and after (state, bridge, stp, delay, mtu, extra, active, autostart).
    - C(extra) lists what the module removes from a definition (other elements, other attributes of C(<bridge>)).
  returned: in diff mode
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cyris.kvm_auto.plugins.module_utils._libvirt_common import LIBVIRT_IMPORT_ERROR
from ansible_collections.cyris.kvm_auto.plugins.module_utils._net_run import NetRun


def argument_spec():
    # bridge and owner are required with state=present: checked by the module, so the message names the network
    return dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        bridge=dict(type='str'),
        owner=dict(type='str'),
        mtu=dict(type='int'),
        uri=dict(type='str', default='qemu:///system'),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if LIBVIRT_IMPORT_ERROR:
        module.fail_json(msg='network %s: %s' % (module.params['name'], missing_required_lib('libvirt-python')),
                         exception=LIBVIRT_IMPORT_ERROR)
    NetRun(module).run()


if __name__ == '__main__':
    main()
