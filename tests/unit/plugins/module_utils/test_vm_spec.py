# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_libvirt import parse_domain_xml
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_spec import (
    VmError, complete_guest, console_log_path, desired_guest, normalize_graphics, normalize_interfaces,
    parse_osinfo_list, resolve_osinfo, set_metadata, virt_install_argv)

AGENT = ['--channel', 'unix,target.type=virtio,target.name=org.qemu.guest_agent.0']


def params(**overrides):
    """Module parameters as AnsibleModule hands them over (defaults filled in)."""
    base = dict(
        name='web_cr1_1_1', state='running', image='/srv/base.qcow2', disk_mode='overlay',
        disk_dir=None, disk_size=None, vcpus=None, memory=None, osinfo=None,
        osinfo_fallback='linux2022', networks=None, graphics=None,
        console='pty', boot=None, cpu_model=None, extra_args=None, virt_type='kvm', uri='qemu:///system',
        autostart=None, recreate=False, wait_for='none', wait_timeout=300, console_pattern='login:')
    base.update(overrides)
    return base


def test_desired_guest_leaves_unset_settings_unset():
    guest = desired_guest(params())
    for field in ('vcpus', 'memory', 'interfaces', 'graphics', 'disk', 'disk_dir', 'autostart', 'disk_size'):
        assert guest[field] is None, field
    assert guest['console_log'] == '/var/log/libvirt/qemu/web_cr1_1_1-console.log'
    assert guest['extra_args'] == []
    assert desired_guest(params(disk_dir='/srv/disks'))['disk'] == '/srv/disks/web_cr1_1_1.qcow2'


def test_complete_guest_for_a_new_domain_uses_creation_defaults():
    guest = complete_guest(desired_guest(params(memory=2048)), None)
    assert guest['memory'] == 2048 and guest['vcpus'] == 1 and guest['autostart'] is False
    assert guest['disk'] == '/var/lib/libvirt/images/web_cr1_1_1.qcow2'
    assert guest['disk_dir'] == '/var/lib/libvirt/images'
    assert guest['interfaces'] == [{'network': 'default', 'model': 'virtio', 'mac': None}]
    assert guest['graphics'] == {'type': 'vnc', 'port': None, 'listen': '127.0.0.1'}


def test_complete_guest_for_a_defined_domain_keeps_its_settings():
    current = {
        'vcpus': 4, 'memory': 4096, 'autostart': True, 'disks': ['/srv/disks/web_cr1_1_1.qcow2'],
        'interfaces': [{'network': 'lab', 'model': 'e1000', 'mac': '52:54:00:00:00:01'},
                       {'type': 'direct', 'model': 'virtio', 'mac': '52:54:00:00:00:03'},
                       {'bridge': 'br0', 'model': 'virtio', 'mac': '52:54:00:00:00:02'}],
        'graphics': {'type': 'spice', 'port': 5910, 'listen': '0.0.0.0'},
    }
    guest = complete_guest(desired_guest(params(vcpus=2)), current)
    assert guest['vcpus'] == 2 and guest['memory'] == 4096 and guest['autostart'] is True
    assert guest['disk'] == '/srv/disks/web_cr1_1_1.qcow2' and guest['disk_dir'] == '/srv/disks'
    assert guest['interfaces'] == [{'network': 'lab', 'model': 'e1000', 'mac': '52:54:00:00:00:01'},
                                   {'bridge': 'br0', 'model': 'virtio', 'mac': '52:54:00:00:00:02'}]
    assert guest['graphics'] == current['graphics']


@pytest.mark.parametrize('overrides, field', [
    (dict(name='a/b'), 'name'),
    (dict(name=''), 'name'),
    (dict(name='-x'), 'name'),
    (dict(vcpus=0), 'vcpus'),
    (dict(memory=0), 'memory'),
    (dict(wait_timeout=0), 'wait_timeout'),
    (dict(disk_size='20GB'), 'disk_size'),
    (dict(disk_size='0G'), 'disk_size'),
    (dict(disk_dir='images'), 'disk_dir'),
    (dict(disk_dir='/srv/a,b'), 'disk_dir'),
    (dict(image='base.qcow2'), 'image'),
    (dict(console_pattern='login:('), 'console_pattern'),
    (dict(networks=[{'network': 'a', 'bridge': 'b'}]), 'networks[0]'),
    (dict(networks=[{'network': None, 'bridge': None}]), 'networks[0]'),
    (dict(networks=[{'network': 'a'}, {'bridge': 'br0', 'mac': '52:54:00:zz:00:01'}]), 'networks[1].mac'),
    (dict(networks=[{'network': 'a,b'}]), 'networks[0].network'),
    (dict(graphics={'type': 'vnc', 'port': 70000, 'listen': '127.0.0.1'}), 'graphics.port'),
])
def test_desired_guest_rejects(overrides, field):
    with pytest.raises(VmError) as err:
        desired_guest(params(**overrides))
    assert str(err.value).startswith(field)


@pytest.mark.parametrize('networks, expected', [
    (None, None),
    ([], []),
    ([{'network': 'office'}], [{'network': 'office', 'model': 'virtio', 'mac': None}]),
    ([{'bridge': 'br0', 'model': 'e1000', 'mac': '52:54:00:AB:cd:01'}],
     [{'bridge': 'br0', 'model': 'e1000', 'mac': '52:54:00:ab:cd:01'}]),
    ([{'network': 'a', 'model': None}, {'network': 'b', 'bridge': ''}],
     [{'network': 'a', 'model': 'virtio', 'mac': None}, {'network': 'b', 'model': 'virtio', 'mac': None}]),
])
def test_normalize_interfaces(networks, expected):
    assert normalize_interfaces(networks) == expected


@pytest.mark.parametrize('graphics, expected', [
    (None, None),
    ({'type': 'vnc', 'port': None, 'listen': None}, {'type': 'vnc', 'port': None, 'listen': '127.0.0.1'}),
    ({'type': 'spice', 'port': 5910, 'listen': '0.0.0.0'}, {'type': 'spice', 'port': 5910, 'listen': '0.0.0.0'}),
    ({'type': 'none', 'port': 5910, 'listen': '0.0.0.0'}, {'type': 'none', 'port': None, 'listen': None}),
    ({'type': 'sdl', 'port': None, 'listen': '127.0.0.1'}, {'type': 'sdl', 'port': None, 'listen': None}),
])
def test_normalize_graphics(graphics, expected):
    assert normalize_graphics(graphics) == expected


@pytest.mark.parametrize('uri, expected', [
    ('qemu:///system', '/var/log/libvirt/qemu/g-console.log'),
    ('qemu+unix:///system', '/var/log/libvirt/qemu/g-console.log'),
])
def test_console_log_path(uri, expected):
    assert console_log_path(uri, 'g') == expected


def test_console_log_path_session():
    assert console_log_path('qemu:///session', 'g').endswith('/.cache/libvirt/qemu/log/g-console.log')


def test_parse_osinfo_list_reads_ids_and_aliases():
    text = 'debian11, debianbullseye\ndebian10, debianbuster\ngeneric\nlinux2022\n\n'
    assert parse_osinfo_list(text) == {'debian11', 'debianbullseye', 'debian10', 'debianbuster', 'generic', 'linux2022'}


@pytest.mark.parametrize('requested, known, expected, warns', [
    ('debian11', {'debian11', 'linux2022'}, 'debian11', False),
    ('debian12', {'debian11', 'linux2022'}, 'linux2022', True),
    (None, set(), 'linux2022', False),
])
def test_resolve_osinfo(requested, known, expected, warns):
    osinfo, warning = resolve_osinfo(requested, 'linux2022', known)
    assert osinfo == expected
    assert bool(warning) == warns
    if warns:
        assert "'debian12'" in warning and "'linux2022'" in warning


_BASE = ['virt-install', '--connect', 'qemu:///system', '--name', 'web_cr1_1_1', '--import', '--print-xml',
         '--dry-run', '--noautoconsole', '--virt-type', 'kvm', '--osinfo', 'debian11', '--vcpus', '1',
         '--memory', '1024', '--disk', 'path=/var/lib/libvirt/images/web_cr1_1_1.qcow2,format=qcow2,bus=virtio']
_TAIL = ['--serial', 'pty,log.file=/var/log/libvirt/qemu/web_cr1_1_1-console.log,log.append=off',
         '--console', 'pty'] + AGENT


@pytest.mark.parametrize('overrides, kwargs, expected', [
    ({}, {}, _BASE + ['--network', 'network=default,model=virtio', '--graphics', 'vnc,listen=127.0.0.1'] + _TAIL),
    (dict(networks=[]), {}, _BASE + ['--network', 'none', '--graphics', 'vnc,listen=127.0.0.1'] + _TAIL),
    (dict(networks=[{'network': 'a', 'mac': '52:54:00:00:00:01'}, {'bridge': 'br0', 'model': 'e1000'}],
          graphics={'type': 'spice', 'port': 5910, 'listen': '0.0.0.0'}),
     {'macs': [None, '52:54:00:00:00:02']},
     _BASE + ['--network', 'network=a,model=virtio,mac=52:54:00:00:00:01',
              '--network', 'bridge=br0,model=e1000,mac=52:54:00:00:00:02',
              '--graphics', 'spice,listen=0.0.0.0,port=5910'] + _TAIL),
    (dict(graphics={'type': 'none'}, boot='hd,menu=on', cpu_model='host-model', extra_args=['--rng', '/dev/urandom']),
     {'uuid': '6e391c44-7289-4888-8e43-df1ae86d9aa2', 'own_devices': True},
     _BASE + ['--network', 'network=default,model=virtio', '--graphics', 'none'] + _TAIL
     + ['--boot', 'hd,menu=on', '--cpu', 'host-model', '--uuid', '6e391c44-7289-4888-8e43-df1ae86d9aa2',
        '--check', 'path_in_use=off,mac_in_use=off', '--rng', '/dev/urandom']),
    (dict(machine='q35', firmware='efi', boot='hd'), {},
     _BASE + ['--network', 'network=default,model=virtio', '--graphics', 'vnc,listen=127.0.0.1'] + _TAIL
     + ['--machine', 'q35', '--boot', 'firmware=efi', '--boot', 'hd']),
    (dict(machine='pc-i440fx-7.2', firmware='bios'), {},
     _BASE + ['--network', 'network=default,model=virtio', '--graphics', 'vnc,listen=127.0.0.1'] + _TAIL
     + ['--machine', 'pc-i440fx-7.2']),
])
def test_virt_install_argv(overrides, kwargs, expected):
    guest = complete_guest(desired_guest(params(**overrides)), None)
    assert virt_install_argv(guest, 'debian11', **kwargs) == expected


def test_desired_guest_refuses_a_machine_with_a_comma():
    with pytest.raises(VmError, match="machine 'q35,x' must not contain ','"):
        desired_guest(params(machine='q35,x'))


def test_virt_install_argv_user_mac_wins_over_kept_mac():
    guest = complete_guest(desired_guest(params(networks=[{'network': 'a', 'mac': '52:54:00:00:00:01'}])), None)
    argv = virt_install_argv(guest, 'linux2022', macs=['52:54:00:99:99:99'])
    assert 'network=a,model=virtio,mac=52:54:00:00:00:01' in argv


DOMAIN = '''<domain type="kvm">
  <name>g</name>
  <uuid>6e391c44-7289-4888-8e43-df1ae86d9aa2</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://libosinfo.org/linux/2022"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory>524288</memory>
  <vcpu>1</vcpu>
  <devices/>
</domain>'''


def test_set_metadata_round_trip_and_replaces_old():
    ours = {'image': '/srv/base.qcow2', 'image_format': 'qcow2', 'osinfo': 'linux2022',
            'image_identity': {'size': 196616, 'mtime_ns': 1795643698155297356},
            'disks': [{'path': '/var/lib/libvirt/images/g.qcow2', 'mode': 'overlay'}]}
    xml = set_metadata(DOMAIN, ours)
    parsed = parse_domain_xml(xml)
    assert parsed['ours'] == ours
    assert parsed['osinfo_url'] == 'http://libosinfo.org/linux/2022'
    again = set_metadata(xml, dict(ours, disks=[]))
    assert parse_domain_xml(again)['ours']['disks'] == []
    assert again.count('https://github.com/cyris-kvm-auto/cyris.kvm_auto/vm/1') == 1


def test_set_metadata_adds_metadata_element_after_uuid():
    xml = set_metadata('<domain><name>g</name><uuid>u</uuid><memory>1</memory></domain>', {'disks': []})
    assert xml.index('<uuid>') < xml.index('<metadata>') < xml.index('<memory>')
    assert parse_domain_xml(xml)['ours'] == {'image': None, 'image_format': None, 'image_identity': None, 'osinfo': None,
                                             'disks': []}


HASH = '$6$saltsalt$' + 'b' * 86
IDENTITY = 'kvm-auto-identity 1\nhostname desktop\n'
ACCESS = {'port': 60001, 'listen': '0.0.0.0', 'guest_port': 22, 'mac': '52:54:00:ac:00:01', 'subnet': '100.127.255.0/24'}


def test_desired_guest_trainee_joins_the_identity():
    guest = desired_guest(params(identity=IDENTITY, trainee={'name': 'trainee01', 'password_hash': HASH, 'sudo': False}))
    assert guest['identity'].splitlines()[-1] == 'trainee trainee01 %s -' % HASH
    assert desired_guest(params(identity=IDENTITY))['identity'] == IDENTITY


@pytest.mark.parametrize('overrides, field', [
    (dict(identity=IDENTITY, trainee={'name': 'trainee01', 'password_hash': 'secret', 'sudo': True}), 'trainee: '),
    (dict(access=dict(ACCESS, port=0)), 'access.port '),
    (dict(access=ACCESS, networks=[{'network': 'a', 'mac': '52:54:00:AC:00:01'}]), 'access.mac '),
])
def test_desired_guest_rejects_trainee_and_access(overrides, field):
    with pytest.raises(VmError) as err:
        desired_guest(params(**overrides))
    assert str(err.value).startswith(field)
    assert 'secret' not in str(err.value)


def test_complete_guest_keeps_the_defined_access_without_its_placement():
    current = {'vcpus': 1, 'memory': 1024, 'autostart': False, 'disks': ['/d/web_cr1_1_1.qcow2'], 'interfaces': [],
               'graphics': {'type': 'none', 'port': None, 'listen': None}, 'access': dict(ACCESS, bus='pci.0', slot=30)}
    assert complete_guest(desired_guest(params()), current)['access'] == ACCESS
    assert desired_guest(params(access=ACCESS))['access'] == ACCESS
    assert complete_guest(desired_guest(params()), None)['access'] is None
