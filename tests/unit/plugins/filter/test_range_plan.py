# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.cyris.kvm_auto.plugins.filter.range_plan import (
    FilterModule,
    file_digest,
    parse_leases,
    parse_templates,
    range_destroy_targets,
    range_details,
    range_host_files,
    range_host_patterns,
    range_host_problems,
    range_plan,
)

RANGE = '''
- host_settings:
  - id: host_1
    mgmt_addr: localhost
    account: root
- guest_settings:
  - id: desktop
    basevm_type: kvm-auto
    image_name: debian-12
    vcpus: 1
    memory: 512
    disk_size: 8G
    tasks:
    - add_account:
      - account: trainee
        passwd: Filter-Secret-1
    - copy_content:
      - src: files/motd
        dst: /etc
- clone_settings:
  - range_id: 42
    hosts:
    - host_id: host_1
      instance_number: 1
      guests:
      - guest_id: desktop
        number: 2
'''

VIRT_BUILDER_LIST = json.dumps({
    'version': 1,
    'sources': [{'uri': 'file:///var/lib/cyris-kvm-auto/templates/index'}],
    'templates': [
        {'os-version': 'debian-12', 'full-name': 'Debian 12', 'arch': 'x86_64', 'size': 6442450944},
        {'os-version': 'ubuntu-22.04', 'arch': 'x86_64', 'size': 2147483648},
    ],
})

LEASES = '''\
 Expiry Time           MAC address         Protocol   IP address          Hostname   Client ID or DUID
----------------------------------------------------------------------------------------------------------
 2026-05-09 10:11:12   52:54:00:6a:0b:01   ipv4       192.168.122.57/24   debian     ff:00:6a:0b:01
 2026-05-09 10:11:40   52:54:00:6A:0B:02   ipv4       192.168.122.58/24   -          -
'''


@pytest.fixture
def range_dir(tmp_path):
    (tmp_path / 'files').mkdir()
    (tmp_path / 'files' / 'motd').write_text('welcome\n')
    return tmp_path


def test_filters_are_registered():
    assert sorted(FilterModule().filters()) == ['range_destroy_targets', 'range_details', 'range_host_files',
                                                'range_host_patterns', 'range_host_problems', 'range_plan']


def test_host_files_and_patterns():
    images = {'kvmauto-debian-12-0123456789ab.qcow2': {'changed': False, 'checksum': 'sha256:' + '5c' * 32},
              'kvmauto-debian-12-ba9876543210.qcow2': {'changed': True, 'osinfo': None}}
    assert range_host_files(images) == {'kvmauto-debian-12-0123456789ab.qcow2': 'kvmauto-debian-12-0123456789ab.' + '5c' * 8 + '.qcow2',
                                        'kvmauto-debian-12-ba9876543210.qcow2': None}
    assert range_host_patterns(sorted(images)) == {'kvmauto-debian-12-0123456789ab.qcow2': 'kvmauto-debian-12-0123456789ab.*.qcow2',
                                                   'kvmauto-debian-12-ba9876543210.qcow2': 'kvmauto-debian-12-ba9876543210.*.qcow2'}
    with pytest.raises(AnsibleFilterError, match='image kvmauto-x.qcow2: .* is not a sha256 checksum'):
        range_host_files({'kvmauto-x.qcow2': {'checksum': 'md5:00'}})


def test_plan_from_yaml_text(range_dir):
    plan = range_plan(RANGE, templates=VIRT_BUILDER_LIST, base_dir=str(range_dir), salt='s')
    assert [vm['name'] for vm in plan['vms']] == ['desktop_cr42_1_1', 'desktop_cr42_1_2']
    assert plan['images'][0]['tasks'][1] == {'copy_content': [{'src': str(range_dir / 'files' / 'motd'), 'dst': '/etc'}]}


def test_public_plan_has_no_tasks_and_no_passwords(range_dir):
    plan = range_plan(RANGE, public=True, base_dir=str(range_dir))
    assert plan['images'][0]['task_types'] == ['add_account', 'copy_content']
    assert 'tasks' not in plan['images'][0]
    assert 'Filter-Secret-1' not in json.dumps(plan)


def test_changed_copied_file_changes_the_image_name(range_dir):
    first = range_plan(RANGE, base_dir=str(range_dir))['images'][0]['name']
    (range_dir / 'files' / 'motd').write_text('changed\n')
    assert range_plan(RANGE, base_dir=str(range_dir))['images'][0]['name'] != first
    assert range_plan(RANGE, base_dir=str(range_dir), check_files=False)['images'][0]['name'] != first


def test_every_error_in_one_filter_error(range_dir):
    broken = RANGE.replace('disk_size: 8G', 'disk_size: 8X').replace('image_name: debian-12', 'image_name: debian-13')
    with pytest.raises(AnsibleFilterError) as caught:
        range_plan(broken, templates=VIRT_BUILDER_LIST, base_dir=str(range_dir))
    message = str(caught.value)
    assert message.startswith('the range description has 2 errors:')
    assert "guest_settings[0] (id=desktop).disk_size: '8X' is not a size such as 20G" in message
    assert "guest_settings[0] (id=desktop).image_name: 'debian-13' is not a template" in message
    assert 'Filter-Secret-1' not in message


def test_missing_controller_file_is_an_error(tmp_path):
    with pytest.raises(AnsibleFilterError) as caught:
        range_plan(RANGE, base_dir=str(tmp_path))
    assert "copy_content[0].src: '%s' does not exist on the controller" % (tmp_path / 'files' / 'motd') in str(caught.value)


def test_yaml_error_names_the_line():
    with pytest.raises(AnsibleFilterError) as caught:
        range_plan('- host_settings:\n  - id: [unclosed\n')
    assert 'the range description is not valid YAML at line 3' in str(caught.value)


@pytest.mark.parametrize('given,expected', [
    (None, None),
    ('', None),
    (VIRT_BUILDER_LIST, {'debian-12': 6442450944, 'ubuntu-22.04': 2147483648}),
    (json.loads(VIRT_BUILDER_LIST), {'debian-12': 6442450944, 'ubuntu-22.04': 2147483648}),
    (['debian-12'], ['debian-12']),
    ({'debian-12': None}, {'debian-12': None}),
])
def test_parse_templates(given, expected):
    assert parse_templates(given) == expected


def test_parse_templates_rejects_other_text():
    with pytest.raises(AnsibleFilterError):
        parse_templates('virt-builder: error: no network')


def test_file_digest(tmp_path):
    target = tmp_path / 'f'
    target.write_bytes(b'abc')
    assert file_digest(str(target)) == 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    tree = tmp_path / 'd'
    (tree / 'sub').mkdir(parents=True)
    (tree / 'sub' / 'x').write_text('1')
    before = file_digest(str(tree))
    (tree / 'sub' / 'x').write_text('2')
    assert file_digest(str(tree)) != before
    assert file_digest(os.path.join(str(tmp_path), 'missing')) is None


def test_parse_leases():
    assert parse_leases(LEASES) == {'52:54:00:6a:0b:01': '192.168.122.57', '52:54:00:6a:0b:02': '192.168.122.58'}
    assert parse_leases([LEASES, '']) == parse_leases(LEASES)
    assert parse_leases(None) == {}


def test_range_details_from_module_results(range_dir):
    plan = range_plan(RANGE, base_dir=str(range_dir), public=True)
    vm_results = [
        {'name': 'desktop_cr42_1_1', 'state': 'running', 'uuid': 'u1',
         'interfaces': [{'mac': '52:54:00:6a:0b:01', 'network': 'default', 'model': 'virtio'}]},
        {'name': 'desktop_cr42_1_2', 'state': 'running', 'uuid': 'u2',
         'interfaces': [{'mac': '52:54:00:6a:0b:09', 'network': 'default', 'model': 'virtio'}]},
        {'skipped': True},
    ]
    image_results = [{'path': '/var/lib/cyris-kvm-auto/images/' + plan['images'][0]['name'], 'checksum': 'sha256:' + 'ab' * 32}]
    details = range_details(plan, vm_results, [LEASES], image_results)
    domains = details['guests'][0]['domains']
    assert [(d['name'], d['uuid'], d['address']) for d in domains] == [
        ('desktop_cr42_1_1', 'u1', '192.168.122.57'), ('desktop_cr42_1_2', 'u2', None)]
    assert details['images'][0]['checksum'] == 'sha256:' + 'ab' * 32
    assert details['images'][0]['host_file'] == plan['images'][0]['name'][:-len('.qcow2')] + '.' + 'ab' * 8 + '.qcow2'
    assert details['guests'][0]['accounts'] == ['trainee']
    assert details['range_id'] == '42'


def check(host, what, rc, stdout='', stderr='', msg=None):
    argv = {'virt-install': ['virt-install', '--version'], 'qemu-img': ['qemu-img', '--version'],
            'libvirt': ['virsh', 'net-info', 'cyris']}[what]
    result = {'item': [host, {'what': what, 'argv': argv}], 'rc': rc, 'stdout': stdout, 'stderr': stderr}
    if msg:
        result['msg'] = msg
    return result


ACTIVE = 'Name:           cyris\nActive:         yes\n'
MISSING = "[Errno 2] No such file or directory: b'virt-install'"


@pytest.mark.parametrize('result,families,expected', [
    (check('kvm1', 'virt-install', 0, '4.1.0'), None, None),
    (check('kvm1', 'libvirt', 0, ACTIVE), None, None),
    (check('kvm1', 'virt-install', 2, msg=MISSING), {'kvm1': 'Debian'},
     'kvm1: virt-install is missing: apt-get install virtinst'),
    (check('kvm1', 'virt-install', 2, msg=MISSING), None,
     'kvm1: virt-install is missing: install virtinst (Debian/Ubuntu) or virt-install (Fedora/RHEL)'),
    (check('kvm2', 'qemu-img', 2, msg=MISSING), {'kvm2': 'RedHat'}, 'kvm2: qemu-img is missing: dnf install qemu-img'),
    (check('kvm1', 'libvirt', 2, msg="[Errno 2] No such file or directory: b'virsh'"), {'kvm1': 'Debian'},
     'kvm1: virsh is missing: apt-get install libvirt-clients'),
    (check('kvm1', 'libvirt', 1, stderr="error: failed to connect to the hypervisor\nerror: Failed to connect socket to "
                                        "'/var/run/libvirt/libvirt-sock': No such file or directory"), {'kvm1': 'Debian'},
     "kvm1: libvirtd is not reachable at qemu:///system: apt-get install libvirt-daemon-system, then start libvirtd "
     "(error: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory)"),
    (check('kvm1', 'libvirt', 1, stderr="error: failed to get network 'cyris'\nerror: Network not found: no network with "
                                        "matching name 'cyris'"), None,
     'kvm1: the libvirt network cyris does not exist: define it (virsh net-define) or set kvm_auto_range_network'),
    (check('kvm1', 'libvirt', 0, 'Name:           cyris\nActive:         no\n'), None,
     'kvm1: the libvirt network cyris is not active: start it (virsh net-start cyris)'),
])
def test_range_host_problems(result, families, expected):
    problems = range_host_problems([result, {'skipped': True}], 'cyris', 'qemu:///system', families)
    assert [p['message'] for p in problems] == ([expected] if expected else [])
    if expected:
        assert problems[0]['host'] == result['item'][0]


def test_range_destroy_targets_adds_what_the_details_file_recorded(range_dir):
    plan = range_plan(RANGE, base_dir=str(range_dir), public=True)
    image = plan['images'][0]['name']
    recorded = {
        'hosts': [{'id': 'host_1', 'inventory_host': 'localhost'}],
        'images': [{'name': image, 'hosts': ['host_1']}, {'name': 'kvmauto-debian-12-0123456789ab.qcow2', 'hosts': ['host_1']}],
        'guests': [{'domains': [
            {'name': 'desktop_cr42_1_1', 'inventory_host': 'localhost'},
            {'name': 'desktop_cr42_2_1', 'inventory_host': 'localhost'},
            {'name': 'old_cr42_1_1', 'inventory_host': 'gone.example.org'},
        ]}],
    }
    targets = range_destroy_targets(plan, recorded)
    assert targets['vms'] == [{'name': 'desktop_cr42_1_1', 'inventory_host': 'localhost'},
                              {'name': 'desktop_cr42_1_2', 'inventory_host': 'localhost'},
                              {'name': 'desktop_cr42_2_1', 'inventory_host': 'localhost'}]
    assert targets['images'] == [image, 'kvmauto-debian-12-0123456789ab.qcow2']
    assert targets['copies'] == [{'image': image, 'inventory_host': 'localhost'},
                                 {'image': 'kvmauto-debian-12-0123456789ab.qcow2', 'inventory_host': 'localhost'}]
    assert targets['unreachable'] == ['old_cr42_1_1 on gone.example.org']
    assert range_destroy_targets(plan, None)['vms'] == targets['vms'][:2]


def test_destroy_names_images_as_deploy_did_even_without_the_files(range_dir):
    deployed = range_plan(RANGE, base_dir=str(range_dir), salt='k')['images'][0]['name']
    assert range_plan(RANGE, base_dir=str(range_dir), salt='k', missing_files_ok=True)['images'][0]['name'] == deployed
    (range_dir / 'files' / 'motd').unlink()
    assert range_plan(RANGE, base_dir=str(range_dir), salt='k', missing_files_ok=True)['vms']
