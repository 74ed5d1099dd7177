# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The range filters: glue between the role and the planner (plugins/module_utils/_range_*.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.cyris.kvm_auto.plugins.filter.range_plan import (
    FilterModule,
    range_deploy_steps,
    range_destroy_targets,
    range_details,
    range_host_problems,
    range_inventory,
    range_job_guests,
    range_pending_guests,
    range_plan,
    range_public,
    range_report,
    range_reset_steps,
    range_transfer_results,
    range_transfers,
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

TEMPLATES = [
    {'name': 'debian-12', 'aliases': ['bookworm'], 'arch': 'x86_64', 'size': 6442450944, 'osinfo': 'debian12'},
    {'name': 'ubuntu-22.04', 'aliases': [], 'arch': 'x86_64', 'size': 2147483648, 'osinfo': 'ubuntu22.04'},
]

SETTINGS = {'image_dir': '/var/lib/libvirt/images/kvm-auto', 'disk_dir': '/var/lib/libvirt/images',
            'build_dir': '/var/lib/cyris-kvm-auto/images', 'build_parallel': 2, 'boot_parallel': 1,
            'link_local_images': True, 'network': 'cyris', 'uri': 'qemu:///system'}
HOSTVARS = {'localhost': {'ansible_connection': 'local'}}

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


def plan_of(text, range_dir, **kwargs):
    kwargs.setdefault('hostvars', HOSTVARS)
    kwargs.setdefault('inventory_hosts', [])
    kwargs.setdefault('base_dir', str(range_dir))
    kwargs.setdefault('salt', 's')
    return range_plan(text, kwargs.pop('settings', SETTINGS), **kwargs)


def built(plan, checksum='sha256:' + 'ab' * 32, **extra):
    """Async results of kvm_auto_image as the role collects them (item nests the job's item)."""
    return [dict({'item': {'item': i['name']}, 'path': SETTINGS['build_dir'] + '/' + i['name'], 'checksum': checksum,
                  'osinfo': 'debian12', 'changed': True, 'rebuilt': True}, **extra) for i in plan['images']]


def test_filters_are_registered():
    assert sorted(FilterModule().filters()) == [
        'range_access_hosts', 'range_base_vms', 'range_changed_items', 'range_deploy_steps', 'range_destroy_targets',
        'range_details', 'range_details_to_write', 'range_host_check_commands', 'range_host_check_results',
        'range_host_problems', 'range_inventory', 'range_job_guests', 'range_pending_guests', 'range_plan', 'range_public',
        'range_report', 'range_reset_steps', 'range_summary', 'range_timings', 'range_transfer_results', 'range_transfers']


def test_plan_from_yaml_text(range_dir):
    plan = plan_of(RANGE, range_dir, templates=TEMPLATES)
    assert plan['errors'] == []
    assert [vm['name'] for vm in plan['vms']] == ['desktop_cr42_1_1', 'desktop_cr42_1_2']
    assert plan['images'][0]['tasks'][1] == {'copy_content': [{'src': str(range_dir / 'files' / 'motd'), 'dst': '/etc'}]}
    assert plan['used_hosts'] == ['localhost']
    assert plan['host_dirs'] == [{'inventory_host': 'localhost', 'path': SETTINGS['image_dir']},
                                 {'inventory_host': 'localhost', 'path': SETTINGS['disk_dir']}]
    assert [c['what'] for c in plan['host_checks']] == ['virt-install', 'qemu-img', 'rsync', 'libvirt', 'memory',
                                                        'running guests', 'defined guests', 'held images',
                                                        'directory devices', 'free space', 'built images']
    assert plan['host_checks'][3]['argv'] == ['virsh', '--connect', 'qemu:///system', 'net-info', 'cyris']
    assert plan['build_batches'] == [{'label': plan['images'][0]['name'], 'members': [plan['images'][0]['name']]}]
    assert plan['summary'] == 'range 42: 2 guests on 1 host (localhost) from 1 image (%s)' % plan['images'][0]['name']


def test_public_view_has_no_tasks_and_no_passwords(range_dir):
    plan = plan_of(RANGE, range_dir)
    assert 'Filter-Secret-1' in json.dumps(plan)
    public = range_public(plan)
    assert public['images'][0]['task_types'] == ['add_account', 'copy_content']
    assert 'tasks' not in public['images'][0] and 'images_by_name' not in public
    assert 'Filter-Secret-1' not in json.dumps(public)


def test_changed_copied_file_changes_the_image_name(range_dir):
    first = plan_of(RANGE, range_dir)['images'][0]['name']
    (range_dir / 'files' / 'motd').write_text('changed\n')
    assert plan_of(RANGE, range_dir)['images'][0]['name'] != first
    assert plan_of(RANGE, range_dir, check_files=False)['images'][0]['name'] != first


def test_errors_come_back_as_a_list_without_passwords(range_dir):
    broken = RANGE.replace('disk_size: 8G', 'disk_size: 8X').replace('image_name: debian-12', 'image_name: debian-13')
    plan = plan_of(broken, range_dir, templates=TEMPLATES)
    assert len(plan['errors']) == 2
    assert "guest_settings[0] (id=desktop).disk_size: '8X' is not a size such as 20G, 512M or 1048576K" in plan['errors']
    assert any(e.startswith("guest_settings[0] (id=desktop).image_name: 'debian-13' is not a template") for e in plan['errors'])
    assert 'Filter-Secret-1' not in json.dumps(plan)


def test_an_alias_of_a_template_is_accepted(range_dir):
    assert plan_of(RANGE.replace('image_name: debian-12', 'image_name: bookworm'), range_dir, templates=TEMPLATES)['errors'] == []


def test_missing_controller_file_is_an_error(tmp_path):
    plan = plan_of(RANGE, tmp_path)
    assert plan['errors'] == ["guest_settings[0] (id=desktop).tasks[1].copy_content[0].src: '%s' does not exist on the "
                              "controller" % (tmp_path / 'files' / 'motd')]


def test_yaml_error_names_the_line(range_dir):
    plan = plan_of('- host_settings:\n  - id: [unclosed\n', range_dir)
    assert 'the range description is not valid YAML at line 3' in plan['errors'][0]


def test_variables_leave_empty_sections_out(range_dir):
    data = {'guest_settings': [{'id': 'pc', 'basevm_type': 'kvm-auto', 'image_name': 'debian-12', 'vcpus': 1,
                                'memory': 512, 'disk_size': '6G'}], 'clone_settings': [], 'host_settings': []}
    plan = plan_of(data, range_dir, variables=True, range_id=5)
    assert plan['errors'] == []
    assert [vm['name'] for vm in plan['vms']] == ['pc']


def test_host_variables_choose_the_directories_and_are_checked(range_dir):
    hostvars = {'localhost': {'ansible_connection': 'local', 'kvm_auto_range_image_dir': '/srv/images/',
                              'kvm_auto_range_disk_dir': 'disks'}}
    plan = plan_of(RANGE, range_dir, hostvars=hostvars)
    assert plan['errors'] == ["host localhost: kvm_auto_range_disk_dir: 'disks' is not an absolute path"]
    hostvars['localhost']['kvm_auto_range_disk_dir'] = '/srv/disks'
    layout = plan_of(RANGE, range_dir, hostvars=hostvars)['layout'][0]
    assert (layout['image_dir'], layout['disk_dir'], layout['local']) == ('/srv/images', '/srv/disks', True)


def test_an_inventory_host_serves_a_host_id(range_dir):
    hostvars = dict(HOSTVARS, kvm1={'kvm_auto_range_host_id': 'host_1', 'ansible_connection': 'ssh'})
    plan = plan_of(RANGE, range_dir, hostvars=hostvars, inventory_hosts=['kvm1'])
    assert plan['used_hosts'] == ['kvm1'] and plan['hosts_to_add'] == []
    assert plan['layout'][0]['local'] is False


def test_deploy_steps_after_the_builds(range_dir):
    settings = dict(SETTINGS, build_dir=str(range_dir), image_dir=str(range_dir))
    plan = range_public(plan_of(RANGE, range_dir, settings=settings))
    steps = range_deploy_steps(plan, built(plan), settings)
    name = plan['images'][0]['name']
    host_file = name[:-len('.qcow2')] + '.' + 'ab' * 8 + '.qcow2'
    # The build and image directories of the controller share a file system: a hard link, no copy.
    assert steps['copies'] == []
    assert [(l['src'], l['dest']) for l in steps['links']] == [(str(range_dir / name), str(range_dir / host_file))]
    guest = steps['guests'][0]
    assert (guest['name'], guest['image'], guest['osinfo'], guest['disk_dir']) == (
        'desktop_cr42_1_1', str(range_dir / host_file), 'debian12', SETTINGS['disk_dir'])
    assert [b['label'] for b in steps['guest_batches']] == ['desktop_cr42_1_1', 'desktop_cr42_1_2']


VM_SETTINGS = {'osinfo_fallback': 'linux2022', 'virt_type': 'qemu', 'uri': 'qemu:///system', 'autostart': False,
               'wait_for': 'agent', 'wait_timeout': 300, 'console_pattern': 'login:'}


def test_a_batch_is_one_kvm_auto_vms_job_per_host_with_each_guests_options(range_dir):
    settings = dict(SETTINGS, build_dir=str(range_dir), image_dir=str(range_dir), boot_parallel=4)
    plan = range_public(plan_of(RANGE, range_dir, settings=settings))
    steps = range_deploy_steps(plan, built(plan), settings)
    batch, = steps['guest_batches']
    job, = batch['jobs']
    assert (job['inventory_host'], job['name']) == ('localhost', 'desktop_cr42_1_1, desktop_cr42_1_2')
    account = {'name': 'trainee01', 'password_hash': '$6$salt$hash', 'sudo': True}
    guests = range_job_guests(job, VM_SETTINGS, 'running', {'desktop_cr42_1_2': account}, ['desktop_cr42_1_1'])
    guest, = guests
    # Exactly kvm_auto_vm's options: nothing of the plan's own (inventory_host, plan_image, network_model).
    assert sorted(guest) == sorted(['name', 'state', 'image', 'disk_mode', 'disk_dir', 'vcpus', 'memory', 'osinfo',
                                    'osinfo_fallback', 'networks', 'identity', 'trainee', 'graphics', 'console',
                                    'extra_args', 'virt_type', 'uri', 'autostart', 'wait_for', 'wait_timeout',
                                    'console_pattern'])
    assert (guest['name'], guest['state'], guest['trainee'], guest['memory']) == ('desktop_cr42_1_2', 'running', account, 512)
    reset = range_reset_steps(plan, 'all', settings)
    assert range_job_guests(reset['guest_batches'][0]['jobs'][0], VM_SETTINGS, 'reset') == [
        {'name': name, 'state': 'reset', 'uri': 'qemu:///system', 'wait_for': 'agent', 'wait_timeout': 300,
         'console_pattern': 'login:'} for name in ('desktop_cr42_1_1', 'desktop_cr42_1_2')]


@pytest.mark.parametrize('member, expected', [
    # A kvm guest's machine, firmware and own boot wait (none: Windows) reach kvm_auto_vm.
    ({'machine': 'pc-q35-7.2', 'firmware': 'efi', 'wait_for': 'none'},
     {'machine': 'pc-q35-7.2', 'firmware': 'efi', 'wait_for': 'none'}),
    # Unset, they are left out and the role's wait holds.
    ({'machine': None, 'firmware': None, 'wait_for': None}, {'wait_for': 'agent'}),
])
def test_a_guests_own_machine_firmware_and_boot_wait_reach_its_job(range_dir, member, expected):
    plan = range_public(plan_of(RANGE, range_dir))
    job = dict(range_deploy_steps(plan, built(plan), SETTINGS)['guest_batches'][0]['jobs'][0])
    job['members'] = [dict(m, **member) for m in job['members']]
    for state in ('running', 'reset'):
        guest = range_job_guests(job, VM_SETTINGS, state)[0]
        wanted = expected if state == 'running' else {'wait_for': expected['wait_for']}
        assert dict((k, guest.get(k)) for k in ('machine', 'firmware', 'wait_for') if k in guest) == wanted


def test_deploy_steps_copy_to_a_remote_host_and_wait_for_unbuilt_images(range_dir):
    hostvars = dict(HOSTVARS, kvm1={'kvm_auto_range_host_id': 'host_1'})
    plan = range_public(plan_of(RANGE, range_dir, hostvars=hostvars, inventory_hosts=['kvm1']))
    steps = range_deploy_steps(plan, built(plan), SETTINGS)
    assert [c['inventory_host'] for c in steps['copies']] == ['kvm1']
    assert steps['copies'][0]['dest'].startswith(SETTINGS['image_dir'] + '/kvmauto-debian-12-')
    assert steps['copies'][0]['checksum'] == steps['images'][plan['images'][0]['name']]['checksum']
    # A check-mode run before the first build: no checksum, so no file to look for, and the guests wait.
    unbuilt = range_deploy_steps(plan, [], SETTINGS)
    assert unbuilt['copies'][0]['dest'] is None and unbuilt['guests'][0]['image'] is None
    assert range_pending_guests(unbuilt, [], [], True) == ['desktop_cr42_1_1', 'desktop_cr42_1_2']
    assert range_pending_guests(steps, [{'item': steps['copies'][0], 'changed': True}], [], True) == [
        'desktop_cr42_1_1', 'desktop_cr42_1_2']
    assert range_pending_guests(steps, [{'item': steps['copies'][0], 'changed': False}], [], True) == []
    assert range_pending_guests(unbuilt, [], [], False) == []


def test_report_of_a_run(range_dir):
    plan = range_public(plan_of(RANGE, range_dir))
    copy = {'image': plan['images'][0]['name'], 'inventory_host': 'localhost', 'src': 'a', 'dest': 'b'}
    send = dict(copy, inventory_host='kvm1', sender='kvm2', shared_with=['kvm3'])
    report = range_report(plan, built(plan), [{'item': send, 'changed': True, 'bytes_sent': 1000}, {'item': send, 'changed': False}],
                          [{'item': copy, 'changed': True}, {'item': copy, 'skipped': True}],
                          [{'name': 'desktop_cr42_1_1', 'created': True, 'changed': True},
                           {'name': 'desktop_cr42_1_2', 'created': False, 'changed': False}])
    assert report == {'range_id': '42', 'built': [plan['images'][0]['name']],
                      'copied': [{'image': copy['image'], 'inventory_host': 'kvm1', 'from': 'kvm2', 'bytes_sent': 1000},
                                 {'image': copy['image'], 'inventory_host': 'kvm3', 'from': 'shared storage', 'bytes_sent': 0}],
                      'linked': [{'image': copy['image'], 'inventory_host': 'localhost'}],
                      'created': ['desktop_cr42_1_1'], 'changed_guests': ['desktop_cr42_1_1']}


def test_transfers_from_the_hosts_connection_variables(range_dir):
    hostvars = dict(HOSTVARS, kvm1={'kvm_auto_range_host_id': 'host_1', 'ansible_host': '10.0.0.1', 'ansible_user': 'root',
                                    'ansible_ssh_private_key_file': '/keys/range'})
    plan = range_public(plan_of(RANGE, range_dir, hostvars=hostvars, inventory_hosts=['kvm1']))
    steps = range_deploy_steps(plan, built(plan), SETTINGS)
    settings = dict(SETTINGS, copy_fanout=True, copy_compression=True)
    copy = steps['copies'][0]
    rounds = range_transfers(steps, plan, [{'item': copy, 'stat': {'exists': False}}], settings, hostvars)
    [[send]] = [r['sends'] for r in rounds]
    assert (send['sender'], send['inventory_host'], send['dest'], send['checksum']) == (
        'localhost', 'kvm1', copy['dest'], copy['checksum'])
    assert send['argv'][-1] == '10.0.0.1:' + send['part'] and '--compress-choice=zstd' in send['argv']
    assert "-l root -i /keys/range" in [a for a in send['argv'] if a.startswith('--rsh=')][0]
    # A rerun: the file is there, nothing to send.
    assert range_transfers(steps, plan, [{'item': copy, 'stat': {'exists': True}}], settings, hostvars) == []


def test_transfer_results_carry_the_bytes_sent():
    send = {'image': 'img', 'inventory_host': 'kvm1', 'sender': 'localhost'}
    placed = [{'item': send, 'changed': True}]
    sent = [{'item': {'item': send, 'ansible_job_id': 'j1'}, 'stdout': 'Number of files: 1\nTotal bytes sent: 1,234,567\n'}]
    assert range_transfer_results(placed, sent) == [{'item': send, 'changed': True, 'bytes_sent': 1234567}]
    # Check mode: nothing was sent.
    assert range_transfer_results(placed, []) == [{'item': send, 'changed': True, 'bytes_sent': None}]
    # A placement run in the background: its outcome is the awaited one.
    started = [{'item': send, 'ansible_job_id': 'j2', 'started': 1, 'changed': True}]
    checked = [{'item': started[0], 'finished': 1, 'changed': True, 'dest': '/i/img'}]
    assert range_transfer_results(started, sent, checked) == [
        {'item': send, 'finished': 1, 'changed': True, 'dest': '/i/img', 'bytes_sent': 1234567}]


def test_range_details_and_inventory_from_module_results(range_dir):
    plan = range_public(plan_of(RANGE, range_dir))
    vm_results = [
        {'name': 'desktop_cr42_1_1', 'state': 'running', 'uuid': 'u1',
         'interfaces': [{'mac': '52:54:00:6a:0b:01', 'network': 'default', 'model': 'virtio'}]},
        {'name': 'desktop_cr42_1_2', 'state': 'running', 'uuid': 'u2',
         'interfaces': [{'mac': '52:54:00:6a:0b:09', 'network': 'default', 'model': 'virtio'}]},
        {'skipped': True},
    ]
    image_results = [{'path': '/var/lib/cyris-kvm-auto/images/' + plan['images'][0]['name'], 'checksum': 'sha256:' + 'ab' * 32}]
    details = range_details(plan, vm_results, [LEASES, ''], image_results)
    domains = details['guests'][0]['domains']
    assert [(d['name'], d['uuid'], d['address']) for d in domains] == [
        ('desktop_cr42_1_1', 'u1', '192.168.122.57'), ('desktop_cr42_1_2', 'u2', None)]
    assert details['images'][0]['checksum'] == 'sha256:' + 'ab' * 32
    assert details['images'][0]['host_file'] == plan['images'][0]['name'][:-len('.qcow2')] + '.' + 'ab' * 8 + '.qcow2'
    assert details['guests'][0]['accounts'] == ['trainee']
    assert details['range_id'] == '42'
    assert [d['libvirt_uri'] for d in domains] == ['qemu:///system', 'qemu:///system']
    common = {'ansible_connection': 'community.libvirt.libvirt_qemu', 'ansible_libvirt_uri': 'qemu:///system',
              'kvm_auto_range_guest_id': 'desktop', 'kvm_auto_range_kvm_host': 'localhost',
              'kvm_auto_range_entry_point': False}
    assert range_inventory(details) == [
        {'name': 'desktop_cr42_1_1', 'groups': ['kvm_auto_range_guests', 'kvm_auto_range_cr42'],
         'vars': dict(common, ansible_host='desktop_cr42_1_1', kvm_auto_range_guest_address='192.168.122.57',
                      kvm_auto_range_instance=1)},
        {'name': 'desktop_cr42_1_2', 'groups': ['kvm_auto_range_guests', 'kvm_auto_range_cr42'],
         'vars': dict(common, ansible_host='desktop_cr42_1_2', kvm_auto_range_guest_address=None,
                      kvm_auto_range_instance=1)}]


@pytest.mark.parametrize('host_vars,expected', [
    ({}, 'qemu+ssh://kvm1/system'),
    ({'ansible_host': '192.0.2.7', 'ansible_user': 'root', 'ansible_port': 2222,
      'ansible_ssh_private_key_file': '/home/lab/.ssh/id_ed25519'},
     'qemu+ssh://root@192.0.2.7:2222/system?keyfile=/home/lab/.ssh/id_ed25519'),
    ({'kvm_auto_range_guest_uri': 'qemu+tls://kvm1.example.org/system'}, 'qemu+tls://kvm1.example.org/system'),
])
def test_details_name_how_the_controller_reaches_a_remote_hosts_guests(range_dir, host_vars, expected):
    hostvars = dict(HOSTVARS, kvm1=dict(host_vars, kvm_auto_range_host_id='host_1'))
    plan = range_public(plan_of(RANGE, range_dir, hostvars=hostvars, inventory_hosts=['kvm1']))
    assert plan['errors'] == []
    details = range_details(plan)
    assert [d['libvirt_uri'] for d in details['guests'][0]['domains']] == [expected, expected]
    assert [e['vars']['ansible_libvirt_uri'] for e in range_inventory(details)] == [expected, expected]


def test_a_guest_uri_that_is_no_uri_is_refused_naming_the_host(range_dir):
    hostvars = dict(HOSTVARS, kvm1={'kvm_auto_range_host_id': 'host_1', 'kvm_auto_range_guest_uri': 'kvm1 system'})
    plan = plan_of(RANGE, range_dir, hostvars=hostvars, inventory_hosts=['kvm1'])
    assert plan['errors'] == ["host kvm1: kvm_auto_range_guest_uri: 'kvm1 system' is not a libvirt URI such as "
                              "qemu+ssh://root@kvm1.example.org/system"]


def check(host, what, rc, stdout='', stderr='', msg=None):
    argv = {'virt-install': ['virt-install', '--version'], 'qemu-img': ['qemu-img', '--version'],
            'rsync': ['rsync', '--version'], 'libvirt': ['virsh', 'net-info', 'cyris']}[what]
    result = {'item': {'inventory_host': host, 'what': what, 'argv': argv}, 'rc': rc, 'stdout': stdout, 'stderr': stderr}
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
    (check('kvm2', 'rsync', 2, msg=MISSING), {'kvm2': 'Debian'}, 'kvm2: rsync is missing: apt-get install rsync'),
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
    hostvars = dict((h, {'ansible_facts': {'os_family': f}}) for h, f in (families or {}).items())
    problems = range_host_problems([result, {'skipped': True}], SETTINGS, hostvars)
    assert [p['message'] for p in problems] == ([expected] if expected else [])
    if expected:
        assert problems[0]['host'] == result['item']['inventory_host']


def test_range_destroy_targets_adds_what_the_details_file_recorded(range_dir):
    plan = range_public(plan_of(RANGE, range_dir))
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
    disk_dir, image_dir = SETTINGS['disk_dir'], SETTINGS['image_dir']
    assert targets['vms'] == [{'name': 'desktop_cr42_1_1', 'inventory_host': 'localhost', 'disk_dir': disk_dir},
                              {'name': 'desktop_cr42_1_2', 'inventory_host': 'localhost', 'disk_dir': disk_dir},
                              {'name': 'desktop_cr42_2_1', 'inventory_host': 'localhost', 'disk_dir': disk_dir}]
    assert targets['images'] == [image, 'kvmauto-debian-12-0123456789ab.qcow2']
    assert targets['copies'] == [
        {'image': image, 'inventory_host': 'localhost', 'image_dir': image_dir, 'pattern': image[:-6] + '.*.qcow2'},
        {'image': 'kvmauto-debian-12-0123456789ab.qcow2', 'inventory_host': 'localhost', 'image_dir': image_dir,
         'pattern': 'kvmauto-debian-12-0123456789ab.*.qcow2'}]
    assert targets['unreachable'] == ['old_cr42_1_1 on gone.example.org']
    assert range_destroy_targets(plan, None)['vms'] == targets['vms'][:2]
    # One kvm_auto_vms run per host removes its guests.
    job, = targets['vm_jobs']
    assert (job['inventory_host'], job['members']) == ('localhost', targets['vms'])
    assert range_job_guests(job, VM_SETTINGS, 'absent') == [
        {'name': vm['name'], 'state': 'absent', 'uri': 'qemu:///system', 'disk_dir': disk_dir} for vm in targets['vms']]


def test_destroy_names_images_as_deploy_did_even_without_the_files(range_dir):
    deployed = plan_of(RANGE, range_dir, salt='k')['images'][0]['name']
    assert plan_of(RANGE, range_dir, salt='k', missing_files_ok=True)['images'][0]['name'] == deployed
    (range_dir / 'files' / 'motd').unlink()
    assert plan_of(RANGE, range_dir, salt='k', missing_files_ok=True)['vms']
