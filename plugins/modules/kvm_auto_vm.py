#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kvm_auto_vm
short_description: Create, change, start, stop and remove a CyRIS guest on a libvirt/KVM host
version_added: 0.1.0
description:
  - Defines a libvirt domain that boots a guest disk made from a base image (by default a qcow2 overlay,
    so one base image serves many guests), and keeps it in the requested run state.
  - The domain XML comes from C(virt-install --import --print-xml --dry-run) and is defined through
    libvirt. On later runs the defined domain is compared with the options (vcpus, memory, NICs,
    graphics, disk path, identity, autostart) and only the difference is changed.
  - Only the options given are compared with a defined domain; an option left out keeps the
    domain's own value (and has its documented default only when the domain is created). So
    O(name) with O(state) is enough to start, stop or remove a guest.
  - Domains this module creates carry a C(<metadata>) element in the namespace
    C(https://github.com/cyris-kvm-auto/cyris.kvm_auto/vm/1) recording the base image, the osinfo
    used and the disks the module created. A domain of the same name without it is never touched.
  - Every domain gets a serial console on a pty whose output libvirt also writes to
    C(/var/log/libvirt/qemu/NAME-console.log) (truncated at each boot), and a virtio channel for
    qemu-guest-agent.
  - The module runs on the KVM host itself; O(uri) names a libvirt daemon on that host.
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
  idempotent:
    support: full
options:
  name:
    description:
      - Name of the libvirt domain.
      - The guest disk is O(disk_dir)/NAME.qcow2.
    type: str
    required: true
  state:
    description:
      - V(present) defines the domain and leaves its run state alone (a new domain stays shut off).
      - V(running) defines and starts it; V(stopped) defines it and shuts it down (ACPI, powered off
        after O(wait_timeout) seconds).
      - V(absent) powers the guest off, undefines the domain (with its NVRAM, managed save image and
        snapshot metadata) and deletes the disks this module created for it and its console log; the
        base image is kept.
      - V(reset) puts the guest back to its state right after creation. The domain must exist and its disk
        must be an overlay this module created (O(disk_mode=overlay)). Any other difference is applied as
        with V(running); then the guest is powered off, its overlay is made anew on the same base image
        (same path, format and virtual size), and it is started and waited for as O(wait_for) says.
        Always reports a change.
    type: str
    choices: [present, running, stopped, absent, reset]
    default: running
  image:
    description:
      - Path of the base image on the KVM host.
      - Required when the guest disk does not exist yet; it is only read.
    type: path
  disk_mode:
    description:
      - V(overlay) creates a qcow2 overlay whose backing file is O(image); the guest writes only to it.
        The size and modification time of O(image) are recorded with the guest; when O(image) is later
        replaced (for example rebuilt at the same path) or removed, every run but O(state=absent) fails
        for this guest, because the overlay no longer matches its base. Give a new image a new path.
      - V(copy) creates a standalone qcow2 copy of O(image).
      - The guest disk is created only when it does not exist and is never overwritten.
    type: str
    choices: [overlay, copy]
    default: overlay
  disk_dir:
    description:
      - Existing directory for the guest disk.
      - When omitted, V(/var/lib/libvirt/images) for a new domain; an existing domain keeps its disk.
      - When it names another directory than the one of the domain's disk, the disk there (created from
        O(image) when missing) replaces it in the definition; the former disk stays.
    type: path
  disk_size:
    description:
      - Virtual size of the guest disk in the CyRIS form (V(20G), V(512M)); not smaller than the image.
      - Applies when the disk is created. The guest's file systems are not grown.
    type: str
  vcpus:
    description:
      - Number of virtual CPUs.
      - When omitted, V(1) for a new domain; not compared for an existing one.
    type: int
  memory:
    description:
      - Memory in MiB.
      - When omitted, V(1024) for a new domain; not compared for an existing one.
    type: int
  osinfo:
    description:
      - OS name for virt-install C(--osinfo) (for example V(debian11)); it sets device defaults at creation.
      - Checked against this host's osinfo-db (C(virt-install --osinfo list)). When unknown, O(osinfo_fallback)
        is used and a warning names the guest and both names.
      - When omitted, O(osinfo_fallback) is used.
    type: str
  osinfo_fallback:
    description:
      - OS name used when O(osinfo) is omitted or unknown to this host.
      - V(linux2022) is a generic recent Linux (virtio devices) known to osinfo-db since 2022; V(generic) suits
        other systems.
    type: str
    default: linux2022
  networks:
    description:
      - NICs of the guest, in order; compared in order with the domain's NICs.
      - When omitted, one virtio NIC on the libvirt network V(default) for a new domain; not compared for an
        existing one.
      - An empty list gives the guest no NIC.
    type: list
    elements: dict
    suboptions:
      network:
        description: Name of a libvirt network. Exactly one of O(networks[].network) and O(networks[].bridge).
        type: str
      bridge:
        description: Name of a host bridge.
        type: str
      model:
        description: NIC model (V(virtio), V(e1000), V(rtl8139)...).
        type: str
        default: virtio
      mac:
        description:
          - MAC address. When omitted libvirt chooses one, and a later run keeps it (it is not drift).
        type: str
  identity:
    description:
      - The guest's identity text (host name, static addresses, default route, forwarding and its
        accept rules), given to the guest as the QEMU fw_cfg entry C(opt/org.cyris.kvm_auto/identity).
        Images built by C(cyris.kvm_auto.kvm_auto_image) apply it at every boot.
      - The text is kept in C(DISK_DIR/NAME.identity) (mode 0600), which the domain's
        C(<sysinfo type='fwcfg'>) entry names, so neither the definition nor QEMU's command line holds
        it (it may hold a trainee's password hash). libvirt hands the file to QEMU for the guest's run
        (its DAC driver gives it to the QEMU user, its AppArmor helper allows QEMU to read it).
        O(state=absent) removes the file with the disk.
      - A definition of an earlier release with the text inline is moved to the file at the next run
        that gives O(identity).
      - 'Lines of single-space-separated fields, the first V(kvm-auto-identity 1), then C(hostname NAME) (once),
        C(address MAC IPV4/PREFIX) (one per NIC MAC, lower case), C(gateway IPV4) (at most once),
        C(forwarding on) (at most once) and C(accept tcp SOURCES DESTINATIONS SPORTS DPORTS) (only with forwarding on;
        comma lists of addresses or CIDRs, and a port, a comma list of at most 15 ports or V(-) for any).'
      - A text that breaks these rules is refused, naming the line.
      - When omitted, a new domain gets none and an existing one keeps its own; not compared.
      - A change redefines the domain; QEMU reads fw_cfg when the guest starts, so a running guest needs a restart
        (RV(restart_required)).
    type: str
  trainee:
    description:
      - The trainee account of an entry point guest, added to O(identity) as its C(trainee NAME HASH ADMIN) line
        (replacing any), which images built by C(cyris.kvm_auto.kvm_auto_image) apply at every boot.
      - Requires O(identity). The hash is never shown in a diff or a returned value.
    type: dict
    suboptions:
      name:
        description: Account name.
        type: str
        required: true
      password_hash:
        description: SHA-512 crypt hash of the password (C($6$SALT$HASH)); never the password.
        type: str
        required: true
      sudo:
        description: Whether the account may run any command as root through sudo.
        type: bool
        default: true
  access:
    description:
      - An extra NIC through which a port of this host leads to the guest, for trainees on other machines.
      - It is QEMU user networking with C(restrict=on) (the guest reaches nothing through it) and one C(hostfwd)
        from O(access.listen):O(access.port) to O(access.guest_port) of the guest, written into the domain as
        C(<qemu:commandline>) arguments, at a free PCI slot of the root bus. QEMU itself listens on the port,
        for as long as the guest runs.
      - The guest must carry the address C(.15) of O(access.subnet) on this NIC (an C(address MAC ADDRESS) line of
        O(identity)).
      - Before any change the module fails when the port is in use on this host by anything but this guest.
      - When omitted, a new domain gets none and an existing one keeps its own; not compared.
      - A change redefines the domain and restarts a running guest.
    type: dict
    suboptions:
      port:
        description: TCP port of this host.
        type: int
        required: true
      listen:
        description: IPv4 address of this host that the port listens on; V(0.0.0.0) is every address.
        type: str
        default: 0.0.0.0
      guest_port:
        description: TCP port of the guest that the host port leads to.
        type: int
        default: 22
      mac:
        description: MAC address of the access NIC.
        type: str
        required: true
      subnet:
        description: IPv4 network of the user-mode network, with a prefix of 8 to 27.
        type: str
        default: 100.127.255.0/24
  graphics:
    description:
      - Graphical console of the guest.
      - When omitted, V(vnc) on V(127.0.0.1) for a new domain; not compared for an existing one.
    type: dict
    suboptions:
      type:
        description: Graphics type; V(none) gives the guest no graphical console.
        type: str
        choices: [vnc, spice, sdl, none]
        default: vnc
      port:
        description: TCP port for V(vnc) or V(spice); when omitted libvirt picks a free one at boot.
        type: int
      listen:
        description: Address the V(vnc) or V(spice) server listens on.
        type: str
        default: 127.0.0.1
  console:
    description:
      - Value of virt-install C(--console), for example V(pty). The serial console always exists and is logged.
    type: str
    default: pty
  boot:
    description: Value of virt-install C(--boot), applied at creation.
    type: str
  cpu_model:
    description: Value of virt-install C(--cpu) (for example V(host-model)), applied at creation.
    type: str
  machine:
    description:
      - QEMU machine type (virt-install C(--machine)), for example V(q35) or V(pc-i440fx-7.2), applied at creation.
      - When omitted, virt-install's choice for the host and O(osinfo).
    type: str
  firmware:
    description:
      - V(efi) boots the guest with UEFI (C(<os firmware='efi'>); libvirt picks the firmware and makes the guest's
        own NVRAM), applied at creation.
      - V(bios) or omitted adds nothing (the default firmware of x86 machines).
    type: str
    choices: [bios, efi]
  extra_args:
    description:
      - Further virt-install arguments, one per list item (for example V(--features), V(smm.state=on)); applied at creation.
    type: list
    elements: str
  virt_type:
    description:
      - libvirt domain type. V(qemu) is software emulation, for hosts without usable KVM.
      - Applied at creation.
    type: str
    choices: [kvm, qemu]
    default: kvm
  uri:
    description: libvirt connection URI on the KVM host.
    type: str
    default: qemu:///system
  autostart:
    description:
      - Start the guest when the host boots.
      - When omitted, V(false) for a new domain; not changed for an existing one.
    type: bool
  recreate:
    description:
      - What to do when the defined domain differs from the options.
      - V(false) redefines the domain in place; when it is running the change applies at its next boot
        and RV(restart_required) is V(true).
      - V(true) powers the guest off, undefines it and defines it anew (same UUID and MACs), keeping its disk,
        then restores the run state.
    type: bool
    default: false
  wait_for:
    description:
      - With O(state=running), what shows that the guest has booted.
      - V(console) waits for O(console_pattern) in the serial console log.
      - V(agent) waits until qemu-guest-agent in the guest answers C(guest-ping).
    type: str
    choices: [none, console, agent]
    default: none
  wait_timeout:
    description: Seconds to wait for O(wait_for), and for an ACPI shutdown with O(state=stopped).
    type: int
    default: 300
  console_pattern:
    description: Python regular expression that O(wait_for=console) looks for on the serial console.
    type: str
    default: 'login:'
notes:
  - O(boot), O(cpu_model), O(machine), O(firmware), O(console), O(extra_args), O(osinfo), O(virt_type), O(disk_mode)
    and O(disk_size) shape the domain or disk when it is created; they are not compared on later runs. Use O(state=absent)
    first to apply a change of them.
'''

EXAMPLES = r'''
- name: Two guests sharing one base image, booted to a login prompt
  cyris.kvm_auto.kvm_auto_vm:
    name: "{{ item }}"
    image: /var/lib/libvirt/images/kvm-auto/desktop.qcow2
    vcpus: 2
    memory: 2048
    osinfo: debian12
    networks:
      - network: cr123-office
    wait_for: console
  loop:
    - desktop_cr123_1_1
    - desktop_cr123_1_2

- name: A router with its identity (applied by the image's kvm-auto-identity service at boot)
  cyris.kvm_auto.kvm_auto_vm:
    name: gw_cr123_1
    image: /var/lib/libvirt/images/kvm-auto/router.qcow2
    networks:
      - network: cr123-1-office
        mac: 52:54:0a:01:00:01
      - network: cr123-1-dmz
        mac: 52:54:0a:01:01:01
    identity: |
      kvm-auto-identity 1
      hostname gw
      address 52:54:0a:01:00:01 10.1.0.1/24
      address 52:54:0a:01:01:01 10.1.1.1/24
      forwarding on
      accept tcp 10.1.0.0/24 10.1.1.5 - 22,80

- name: An entry point that trainees reach on port 60001 of this host, with their account
  cyris.kvm_auto.kvm_auto_vm:
    name: desktop_cr123_1_1
    image: /var/lib/libvirt/images/kvm-auto/desktop.qcow2
    networks:
      - network: cr123-1-office
        mac: 52:54:0a:01:00:05
    identity: |
      kvm-auto-identity 1
      hostname desktop
      address 52:54:0a:01:00:05 10.1.0.5/24
      address 52:54:00:ac:00:01 100.127.255.15/24
    trainee:
      name: trainee01
      password_hash: "{{ trainee01_hash }}"
    access:
      port: 60001
      mac: 52:54:00:ac:00:01

- name: Put the guest back to its state right after creation, and wait until it is up
  cyris.kvm_auto.kvm_auto_vm:
    name: desktop_cr123_1_1
    state: reset
    wait_for: agent

- name: Shut a guest down
  cyris.kvm_auto.kvm_auto_vm:
    name: desktop_cr123_1_1
    state: stopped

- name: Remove a guest and the overlay made for it
  cyris.kvm_auto.kvm_auto_vm:
    name: desktop_cr123_1_1
    state: absent
'''

RETURN = r'''
name:
  description: Name of the domain.
  returned: always
  type: str
  sample: desktop_cr123_1_1
uuid:
  description: UUID of the domain; null when it does not exist (or would be created in check mode).
  returned: always
  type: str
  sample: 6e391c44-7289-4888-8e43-df1ae86d9aa2
state:
  description: Run state after the module (in check mode, the state it would leave), one of V(running), V(stopped), V(paused), V(absent).
  returned: always
  type: str
  sample: running
disks:
  description: Disk paths of the domain.
  returned: always
  type: list
  elements: str
  sample: [/var/lib/libvirt/images/desktop_cr123_1_1.qcow2]
interfaces:
  description: NICs of the domain, in order; C(mac) is absent only for a NIC not yet created in check mode.
  returned: always
  type: list
  elements: dict
  sample: [{mac: '52:54:00:f3:79:90', network: cr123-office, model: virtio}]
osinfo:
  description: OS name the domain was or would be created with; null when unknown.
  returned: always
  type: str
  sample: linux2022
created:
  description: Whether the domain was defined anew (created or recreated).
  returned: always
  type: bool
reset:
  description: Whether the guest disk was made anew (O(state=reset)); in check mode, whether it would be.
  returned: always
  type: bool
access:
  description:
    - The access NIC as defined (with C(bus) and C(slot), the PCI slot as a number); null when the guest has none.
    - In check mode, the access it would have, without C(bus) and C(slot).
  returned: always
  type: dict
  sample: {port: 60001, listen: 0.0.0.0, guest_port: 22, mac: '52:54:00:ac:00:01', subnet: 100.127.255.0/24, bus: pci.0, slot: 30}
restart_required:
  description: Whether the definition changed while the guest ran, so the change applies at its next boot.
  returned: always
  type: bool
console_log:
  description: Log file of the serial console.
  returned: always
  type: str
  sample: /var/log/libvirt/qemu/desktop_cr123_1_1-console.log
commands:
  description: External commands run, as display strings.
  returned: always
  type: list
  elements: str
diff:
  description:
    - Managed settings before and after (state, vcpus, memory, interfaces, graphics, disk, identity, access, autostart).
    - The identity is shown with the trainee's password hash masked. With O(state=reset), C(disk_content) says that
      the disk is made anew.
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_libvirt import LIBVIRT_IMPORT_ERROR
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_options import REQUIRED_BY, argument_spec
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_run import VmRun


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, required_by=REQUIRED_BY)
    if LIBVIRT_IMPORT_ERROR:
        module.fail_json(msg='guest %s: %s' % (module.params['name'], missing_required_lib('libvirt-python')),
                         exception=LIBVIRT_IMPORT_ERROR)
    VmRun(module).run()


if __name__ == '__main__':
    main()
