# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import libvirt
import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_libvirt import (
    Libvirt, parse_domain_xml, patch_domain_xml, read_console, undefine_flags)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_spec import VmError, set_metadata

# The inactive XML libvirt 9 (qemu driver) gives back for a domain virt-install made.
DEFINED = '''<domain type='qemu'>
  <name>g</name>
  <uuid>6e391c44-7289-4888-8e43-df1ae86d9aa2</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://libosinfo.org/linux/2022"/>
    </libosinfo:libosinfo>
    <kvmauto:vm xmlns:kvmauto="https://github.com/cyris-kvm-auto/cyris.kvm_auto/vm/1">
      <kvmauto:image path="/srv/base.qcow2" format="qcow2" size="196616" mtime_ns="1795643698155297356"/>
      <kvmauto:osinfo id="linux2022"/>
      <kvmauto:disk path="/var/lib/libvirt/images/g.qcow2" mode="overlay"/>
    </kvmauto:vm>
  </metadata>
  <memory unit='KiB'>1048576</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/g.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/srv/tools.iso'/>
      <target dev='sda' bus='sata'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:F3:79:90'/>
      <source network='office'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:00:00:02'/>
      <source bridge='br0'/>
      <model type='e1000'/>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
    </interface>
    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/g-console.log' append='off'/>
      <target type='isa-serial' port='0'/>
    </serial>
    <console type='pty'>
      <log file='/var/log/libvirt/qemu/g-console.log' append='off'/>
      <target type='serial' port='0'/>
    </console>
    <graphics type='vnc' port='-1' autoport='yes'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <video>
      <model type='virtio' heads='1' primary='yes'/>
    </video>
  </devices>
</domain>'''

# What virt-install prints for the changed guest (memory 2048 MiB, one NIC on 'lab', spice on 5910).
FRESH = '''<domain type="qemu">
  <name>g</name>
  <memory>2097152</memory>
  <currentMemory>2097152</currentMemory>
  <vcpu>2</vcpu>
  <devices>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2"/>
      <source file="/srv/disks/g.qcow2"/>
      <target dev="vda" bus="virtio"/>
    </disk>
    <interface type="network">
      <source network="lab"/>
      <mac address="52:54:00:f3:79:90"/>
      <model type="virtio"/>
    </interface>
    <graphics type="spice" port="5910" tlsPort="-1" listen="127.0.0.1">
      <image compression="off"/>
    </graphics>
  </devices>
</domain>'''


def test_parse_domain_xml():
    parsed = parse_domain_xml(DEFINED)
    assert parsed['uuid'] == '6e391c44-7289-4888-8e43-df1ae86d9aa2'
    assert parsed['vcpus'] == 1
    assert parsed['memory'] == 1024
    assert parsed['disks'] == ['/var/lib/libvirt/images/g.qcow2']
    assert parsed['interfaces'] == [
        {'network': 'office', 'mac': '52:54:00:f3:79:90', 'model': 'virtio'},
        {'bridge': 'br0', 'mac': '52:54:00:00:00:02', 'model': 'e1000'},
    ]
    assert parsed['graphics'] == {'type': 'vnc', 'port': None, 'listen': '127.0.0.1'}
    assert parsed['console_log'] == '/var/log/libvirt/qemu/g-console.log'
    assert parsed['osinfo_url'] == 'http://libosinfo.org/linux/2022'
    assert parsed['ours'] == {'image': '/srv/base.qcow2', 'image_format': 'qcow2', 'osinfo': 'linux2022',
                              'image_identity': {'size': 196616, 'mtime_ns': 1795643698155297356},
                              'disks': [{'path': '/var/lib/libvirt/images/g.qcow2', 'mode': 'overlay'}]}


@pytest.mark.parametrize('fragment, expected', [
    ("<memory unit='GiB'>2</memory>", 2048),
    ("<memory unit='MiB'>512</memory>", 512),
    ("<memory unit='b'>1073741824</memory>", 1024),
    ('<memory>524288</memory>', 512),
])
def test_parse_memory_units(fragment, expected):
    assert parse_domain_xml('<domain><name>g</name>%s</domain>' % fragment)['memory'] == expected


@pytest.mark.parametrize('graphics, expected', [
    ('', {'type': 'none', 'port': None, 'listen': None}),
    ("<graphics type='vnc' port='5905' autoport='no' listen='0.0.0.0'/>", {'type': 'vnc', 'port': 5905, 'listen': '0.0.0.0'}),
    ("<graphics type='spice' autoport='yes' listen='127.0.0.1'/>", {'type': 'spice', 'port': None, 'listen': '127.0.0.1'}),
    ("<graphics type='sdl' display=':0'/>", {'type': 'sdl', 'port': None, 'listen': None}),
])
def test_parse_graphics(graphics, expected):
    assert parse_domain_xml('<domain><name>g</name><devices>%s</devices></domain>' % graphics)['graphics'] == expected


def test_parse_foreign_domain_has_no_metadata():
    assert parse_domain_xml('<domain><name>g</name><metadata><x:y xmlns:x="urn:other"/></metadata></domain>')['ours'] is None


@pytest.mark.parametrize('fields, check', [
    (['memory'], lambda p, x: p['memory'] == 2048 and p['vcpus'] == 1 and "<currentMemory>2097152<" in x),
    (['vcpus'], lambda p, x: p['vcpus'] == 2 and p['memory'] == 1024),
    (['interfaces'], lambda p, x: p['interfaces'] == [{'network': 'lab', 'mac': '52:54:00:f3:79:90', 'model': 'virtio'}]
     and "bus=\"0x01\"" in x and "bus=\"0x02\"" not in x),
    (['graphics'], lambda p, x: p['graphics'] == {'type': 'spice', 'port': 5910, 'listen': '127.0.0.1'}),
    (['disk'], lambda p, x: p['disks'] == ['/srv/disks/g.qcow2'] and "bus=\"0x04\"" in x),
])
def test_patch_domain_xml_changes_only_the_fields(fields, check):
    xml = patch_domain_xml(DEFINED, FRESH, fields)
    parsed = parse_domain_xml(xml)
    assert check(parsed, xml)
    # everything else of the defined domain stays: the cdrom, the console log, our metadata
    assert '/srv/tools.iso' in xml
    assert parsed['console_log'] == '/var/log/libvirt/qemu/g-console.log'
    assert parsed['ours']['image'] == '/srv/base.qcow2'


def test_patch_domain_xml_with_no_fields_keeps_definition():
    assert parse_domain_xml(patch_domain_xml(DEFINED, FRESH, [])) == parse_domain_xml(DEFINED)


@pytest.mark.parametrize('xml, nvram', [
    ('<domain><os><type>hvm</type></os></domain>', False),
    ('<domain><os><loader readonly="yes" type="pflash">/usr/share/OVMF/OVMF_CODE.fd</loader>'
     '<nvram>/var/lib/libvirt/qemu/nvram/g_VARS.fd</nvram></os></domain>', True),
])
def test_undefine_flags(xml, nvram):
    flags = undefine_flags(xml)
    assert flags & libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    assert flags & libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    assert bool(flags & libvirt.VIR_DOMAIN_UNDEFINE_NVRAM) is nvram


def test_read_console_follows_and_restarts_after_truncation(tmp_path):
    log = tmp_path / 'g-console.log'
    assert read_console(str(log), 0) == ('', 0)
    log.write_bytes(b'Booting\r\n')
    text, offset = read_console(str(log), 0)
    assert (text, offset) == ('Booting\r\n', 9)
    with open(str(log), 'ab') as handle:
        handle.write(b'debian login: ')
    assert read_console(str(log), offset) == ('debian login: ', 23)
    log.write_bytes(b'new\xffboot')
    assert read_console(str(log), 23) == (u'new\ufffdboot', 8)


# ---- against libvirt's test driver -------------------------------------------------------

TEST_DOMAIN = '''<domain type='test'>
  <name>kvmauto-unit</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/nonexistent/kvmauto-unit.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <interface type='network'><source network='default'/><model type='virtio'/></interface>
  </devices>
</domain>'''


@pytest.fixture
def lv():
    # test:///default keeps its state while a connection is open; each test starts fresh.
    handle = Libvirt('test:///default')
    yield handle
    dom = handle.lookup('kvmauto-unit')
    if dom is not None:
        handle.destroy(dom)
        dom.undefine()
    handle.close()


def test_connect_failure_names_uri():
    with pytest.raises(VmError, match=r'cannot connect to libvirt at uri qemu\+unix:///system\?socket=/nonexistent/sock'):
        Libvirt('qemu+unix:///system?socket=/nonexistent/sock')


def test_lookup_and_networks(lv):
    assert lv.lookup('kvmauto-unit') is None
    assert lv.lookup('test') is not None
    assert lv.network_active('default') is True
    assert lv.network_active('kvmauto-nonexistent') is None


def test_lifecycle(lv):
    dom = lv.define(set_metadata(TEST_DOMAIN, {'disks': []}))
    current = lv.inspect(dom)
    assert (current['state'], current['autostart'], current['memory']) == ('stopped', False, 512)
    assert current['ours']['disks'] == []
    lv.set_autostart(dom, True)
    lv.start(dom)
    assert lv.inspect(dom)['state'] == 'running' and lv.inspect(dom)['autostart'] is True
    dom.suspend()
    assert lv.inspect(dom)['state'] == 'paused'
    lv.resume(dom)
    assert lv.inspect(dom)['state'] == 'running'
    assert lv.stop(dom, 5) is False  # the test driver shuts down on ACPI at once
    assert lv.inspect(dom)['state'] == 'stopped'
    lv.start(dom)
    dom.suspend()
    assert lv.stop(dom, 5) is True  # a paused guest cannot hear ACPI: powered off
    lv.undefine(dom, current['xml'])
    assert lv.lookup('kvmauto-unit') is None


def test_define_error_is_explained(lv):
    with pytest.raises(VmError, match='libvirt refused the domain definition'):
        lv.define('<domain type="test"><name>x</name></domain>')


def test_wait_console(lv, tmp_path):
    log = tmp_path / 'console.log'
    dom = lv.define(TEST_DOMAIN)
    lv.start(dom)
    log.write_bytes(b'\x1b[0mDebian GNU/Linux 12 kvmauto-unit ttyS0\r\n\r\nkvmauto-unit login: ')
    started = time.time()
    lv.wait_console(dom, str(log), 'login:', 30)
    assert time.time() - started < 1
    with pytest.raises(VmError, match=r"(?s)no 'Password:' on the serial console within wait_timeout=1 s .*login: "):
        lv.wait_console(dom, str(log), 'Password:', 1)
    lv.destroy(dom)
    with pytest.raises(VmError, match='the guest stopped before'):
        lv.wait_console(dom, str(log), 'Password:', 30)


def test_wait_agent_times_out_without_agent(lv):
    dom = lv.define(TEST_DOMAIN)
    lv.start(dom)
    with pytest.raises(VmError, match='qemu-guest-agent did not answer guest-ping within wait_timeout=1 s'):
        lv.wait_agent(dom, 1)
