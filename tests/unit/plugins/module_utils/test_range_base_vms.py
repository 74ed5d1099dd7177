# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_base_vms import (
    BaseXmlError, base_vm_checks, base_vm_problems, base_vms, clone_settings, parse_base_xml, with_base_memory)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_deploy import vm_arguments
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_plan import plan_range

BAD = sorted(glob.glob(os.path.join(os.path.dirname(__file__), '..', '..', 'data', 'base_vms', 'bad', '*.xml')))

BASE_XML = '''<domain type='kvm'>
  <name>base</name>
  <memory unit='KiB'>786432</memory>
  <currentMemory unit='KiB'>524288</currentMemory>
  <vcpu placement='static' current='2'>4</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram>/var/lib/libvirt/qemu/nvram/base_VARS.fd</nvram>
  </os>
  <devices>
    <disk type='file' device='cdrom'><source file='/iso/install.iso'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/srv/base/disk.qcow2'/></disk>
    <interface type='network'><source network='default'/><model type='e1000'/></interface>
    <interface type='bridge'><source bridge='br0'/></interface>
    <graphics type='vnc' passwd='Vnc-Secret-9'/>
  </devices>
</domain>
'''
PARSED = {'vcpus': 2, 'memory': 768, 'machine': 'pc-q35-7.2', 'arch': 'x86_64', 'firmware': 'efi',
          'nic_models': ['e1000', None], 'disk': '/srv/base/disk.qcow2'}


def test_parse_base_xml_reads_what_a_clone_takes():
    assert parse_base_xml(BASE_XML) == PARSED


@pytest.mark.parametrize('xml, expected', [
    ('<domain/>', {'vcpus': None, 'memory': None, 'machine': None, 'arch': None, 'firmware': 'bios',
                   'nic_models': [], 'disk': None}),
    ("<domain><vcpu>3</vcpu><memory unit='GiB'>2</memory></domain>", {'vcpus': 3, 'memory': 2048}),
    ("<domain><memory>1048576</memory></domain>", {'memory': 1024}),
    ("<domain><memory unit='MB'>1000</memory></domain>", {'memory': 954}),
    ("<domain><memory unit='bytes'>536870912</memory></domain>", {'memory': 512}),
    ("<domain><os firmware='efi'><type>hvm</type></os></domain>", {'firmware': 'efi', 'machine': None}),
    ("<domain><os><loader type='rom'>/srv/bios.bin</loader></os></domain>", {'firmware': 'bios'}),
    ("<domain><os><loader>/usr/share/OVMF/OVMF_CODE.fd</loader></os></domain>", {'firmware': 'efi'}),
    ("<domain><devices><disk type='block'><source dev='/dev/vg/base'/></disk></devices></domain>",
     {'disk': '/dev/vg/base'}),
])
def test_parse_base_xml_cases(xml, expected):
    parsed = parse_base_xml(xml)
    for key, value in expected.items():
        assert parsed[key] == value, key


def test_xml_corpus_is_there():
    assert len(BAD) >= 8


@pytest.mark.parametrize('path', BAD, ids=[os.path.basename(p)[:-4] for p in BAD])
def test_bad_base_xml_is_refused_saying_why(path):
    with open(path) as handle:
        text = handle.read()
    expected = re.findall(r'<!-- expect: (.*) -->', text)
    assert expected, 'corpus file without an "<!-- expect: ... -->" line'
    with pytest.raises(BaseXmlError) as caught:
        parse_base_xml(text)
    for fragment in expected:
        assert fragment in str(caught.value)


def test_a_huge_xml_is_refused_unread():
    with pytest.raises(BaseXmlError, match='larger than'):
        parse_base_xml('<domain>' + ' ' * (1024 * 1024) + '</domain>')


def kvm_range(**guest_changes):
    guest = {'id': 'win', 'basevm_type': 'kvm', 'basevm_host': 'host_1', 'basevm_config_file': '/srv/base/win7.xml'}
    guest.update(guest_changes)
    return [
        {'host_settings': [{'id': 'host_1', 'mgmt_addr': 'localhost', 'account': 'root'}]},
        {'guest_settings': [guest]},
        {'clone_settings': [{'range_id': 7, 'hosts': [
            {'host_id': 'host_1', 'instance_number': 2, 'guests': [{'guest_id': 'win', 'number': 1}]}]}]},
    ]


def test_plan_of_a_kvm_guest_carries_its_base_vm_and_os():
    vms = plan_range(kvm_range(basevm_os_type='windows.7'), salt='s')['vms']
    assert [(vm['config_file'], vm['image'], vm['osinfo'], vm['wait_for'], vm['network_model']) for vm in vms] == [
        ('/srv/base/win7.xml', '/srv/base/win7', 'win7', 'none', None)] * 2


@pytest.mark.parametrize('changes, osinfo, wait', [
    ({}, None, None),
    ({'basevm_os_type': 'ubuntu_20'}, 'ubuntu20.04', None),
    ({'basevm_os_type': 'ubuntu_20', 'os_variant': 'ubuntu22.04'}, 'ubuntu22.04', None),
    ({'os_variant': 'win10'}, 'win10', 'none'),
])
def test_os_variant_wins_over_basevm_os_type(changes, osinfo, wait):
    vm = plan_range(kvm_range(**changes), salt='s')['vms'][0]
    assert (vm['osinfo'], vm['wait_for']) == (osinfo, wait)


def test_one_xml_check_per_base_vm_and_host():
    plan = plan_range(kvm_range(), salt='s')
    for vm in plan['vms']:
        vm['inventory_host'] = 'localhost'
    assert base_vm_checks(plan['vms']) == [{
        'inventory_host': 'localhost', 'what': 'base VM XML of win', 'argv': ['cat', '--', '/srv/base/win7.xml'],
        'base_vm': 'win', 'config_file': '/srv/base/win7.xml', 'convention_disk': '/srv/base/win7', 'no_log': True}]


CHECK = {'inventory_host': 'kvm1', 'what': 'base VM XML of win', 'base_vm': 'win', 'config_file': '/srv/base/win7.xml',
         'convention_disk': '/srv/base/win7', 'argv': [], 'no_log': True}
SUBJECT = 'guest win (host kvm1): basevm_config_file /srv/base/win7.xml'


def read(stdout='', rc=0, stderr=''):
    return base_vms([{'item': CHECK, 'rc': rc, 'stdout': stdout, 'stderr': stderr},
                     {'item': {'inventory_host': 'kvm1', 'what': 'qemu-img'}, 'rc': 0}])


@pytest.mark.parametrize('xml, disk, disk_from', [
    (BASE_XML, '/srv/base/disk.qcow2', 'xml'),
    ('<domain><vcpu>1</vcpu></domain>', '/srv/base/win7', 'convention'),
])
def test_base_vms_take_the_xml_disk_else_the_cyris_convention(xml, disk, disk_from):
    [base] = read(xml)
    assert (base['disk'], base['disk_from'], base['problem']) == (disk, disk_from, None)
    assert base['disk_check'] == ['stat', '-L', '-c', '%F', '--', disk]
    assert 'Vnc-Secret-9' not in repr(base)


@pytest.mark.parametrize('bases, disk_result, message', [
    (read(rc=1, stderr='cat: /srv/base/win7.xml: No such file or directory'), None,
     SUBJECT + ' cannot be read there (rc=1): cat: /srv/base/win7.xml: No such file or directory'),
    (read('<network/>'), None,
     SUBJECT + ' is not a usable libvirt domain XML: its root element is <network>, not a libvirt <domain>'),
    (read(BASE_XML), {'rc': 1, 'stderr': 'No such file'},
     SUBJECT + ': its first disk, the base disk /srv/base/disk.qcow2, does not exist on the host'),
    (read('<domain/>'), {'rc': 1},
     SUBJECT + ": the XML names no disk; by CyRIS's convention, the base disk /srv/base/win7, does not exist on the host"),
    (read(BASE_XML), {'rc': 0, 'stdout': 'directory\n'},
     SUBJECT + ': its first disk, the base disk /srv/base/disk.qcow2, is a directory, not an image file or block device'),
    (read(BASE_XML), {'rc': 0, 'stdout': 'regular file\n'}, None),
    (read(BASE_XML), {'rc': 0, 'stdout': 'block special file\n'}, None),
])
def test_base_vm_problems(bases, disk_result, message):
    results = [dict(disk_result, item=bases[0])] if disk_result else []
    problems = base_vm_problems(bases, results)
    assert problems == ([{'host': 'kvm1', 'what': 'base VM XML', 'message': message}] if message else [])


VM = {'image': '/srv/base/win7', 'vcpus': None, 'memory': None, 'network_model': None}


@pytest.mark.parametrize('vm, nic_count, expected', [
    ({}, 1, {'image': '/srv/base/disk.qcow2', 'vcpus': 2, 'memory': 768, 'nic_models': ['e1000']}),
    ({'vcpus': 4, 'memory': 2048, 'network_model': 'rtl8139'}, 2,
     {'vcpus': 4, 'memory': 2048, 'nic_models': ['rtl8139', 'rtl8139']}),
    ({}, 3, {'nic_models': ['e1000', 'virtio', 'virtio']}),
])
def test_clone_settings_range_values_win(vm, nic_count, expected):
    [base] = read(BASE_XML)
    settings = clone_settings(dict(VM, **vm), base, nic_count)
    assert settings['machine'] == 'pc-q35-7.2' and settings['firmware'] == 'efi'
    for key, value in expected.items():
        assert settings[key] == value, key


def test_clone_settings_without_a_read_base_keep_the_plan():
    assert clone_settings(VM, None, 1) == {'image': '/srv/base/win7', 'vcpus': None, 'memory': None, 'machine': None,
                                           'firmware': None, 'nic_models': ['virtio']}


def test_vm_arguments_of_a_kvm_guest_come_from_its_base_vm():
    plan = plan_range(kvm_range(basevm_os_type='windows.7'), salt='s')
    vm = dict(plan['vms'][0], inventory_host='kvm1')
    [base] = read(BASE_XML)
    args = vm_arguments(vm, {'disk_dir': '/d', 'image_dir': '/i'}, {}, 'lab', base=base)
    assert dict((k, args[k]) for k in ('image', 'vcpus', 'memory', 'osinfo', 'machine', 'firmware', 'networks',
                                       'wait_for')) == {
        'image': '/srv/base/disk.qcow2', 'vcpus': 2, 'memory': 768, 'osinfo': 'win7', 'machine': 'pc-q35-7.2',
        'firmware': 'efi', 'networks': [{'network': 'lab', 'model': 'e1000'}], 'wait_for': 'none'}


@pytest.mark.parametrize('vm, memory', [
    ({'basevm_type': 'kvm', 'memory': None}, 768),
    ({'basevm_type': 'kvm', 'memory': 1024}, 1024),
    ({'basevm_type': 'kvm', 'memory': None, 'inventory_host': 'kvm2'}, None),
    ({'basevm_type': 'kvm-auto', 'memory': 512}, 512),
])
def test_with_base_memory_counts_what_the_clone_will_have(vm, memory):
    [base] = read(BASE_XML)
    vm = dict({'guest': 'win', 'inventory_host': 'kvm1', 'image': '/srv/base/win7', 'vcpus': None,
               'network_model': None}, **vm)
    assert [v['memory'] for v in with_base_memory([vm], [base])] == [memory]
