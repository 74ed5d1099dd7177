# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whole module runs against libvirt's test driver: real AnsibleModule, real virt-install and
qemu-img, real libvirt API; only the hypervisor is libvirt's in-memory one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import io
import json
import os
import socket
import subprocess

import libvirt
import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_libvirt import parse_domain_xml
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_identity import read_identity_file
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_run import VmRun
from ansible_collections.cyris.kvm_auto.plugins.modules.kvm_auto_vm import argument_spec

URI = 'test:///default'


# conn and log_dir: conftest.py; every test here keeps its console logs in its own directory.
pytestmark = pytest.mark.usefixtures('log_dir')


@pytest.fixture
def base(tmp_path):
    path = str(tmp_path / 'base.qcow2')
    subprocess.check_call(['qemu-img', 'create', '-q', '-f', 'qcow2', path, '64M'])
    return path


@pytest.fixture
def args(tmp_path, base):
    disk_dir = tmp_path / 'disks'
    disk_dir.mkdir()
    return {'name': 'web_cr1_1_1', 'image': base, 'disk_dir': str(disk_dir), 'uri': URI}


def run(args, check_mode=False):
    """Run the module; return (result, warnings)."""
    module_args = dict(args, _ansible_check_mode=check_mode)
    stdout = io.StringIO()
    warnings = []
    with patch_module_args(module_args):
        module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
        # The test driver knows only its own domain type, which the module does not offer.
        module.params['virt_type'] = 'test'
        module.warn = warnings.append
        with contextlib.redirect_stdout(stdout):
            with pytest.raises(SystemExit):
                VmRun(module).run()
    return json.loads(stdout.getvalue()), warnings


def defined(conn, name='web_cr1_1_1'):
    return parse_domain_xml(conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def disk_info(path):
    return json.loads(subprocess.check_output(['qemu-img', 'info', '--output=json', '-U', path]))


def test_create_check_real_rerun(conn, args, base, log_dir):
    disk = os.path.join(args['disk_dir'], 'web_cr1_1_1.qcow2')
    result, warnings = run(args, check_mode=True)
    assert result['changed'] is True and result['created'] is True
    assert result['uuid'] is None and result['state'] == 'running' and result['disks'] == [disk]
    assert result['diff']['before'] == {'state': 'absent'}
    assert result['diff']['after']['memory'] == 1024
    assert os.listdir(args['disk_dir']) == []
    assert 'web_cr1_1_1' not in [d.name() for d in conn.listAllDomains()]

    result, warnings = run(args)
    assert result['changed'] is True and result['created'] is True and 'failed' not in result
    assert result['state'] == 'running' and result['disks'] == [disk]
    assert result['interfaces'][0]['network'] == 'default' and result['interfaces'][0]['mac']
    assert result['console_log'] == str(log_dir / 'web_cr1_1_1-console.log')
    assert result['osinfo'] == 'linux2022' and warnings == []
    assert disk_info(disk)['full-backing-filename'] == base
    assert any(c.startswith('/usr/bin/virt-install --connect test:///default --name web_cr1_1_1') for c in result['commands'])
    domain = defined(conn)
    assert domain['ours'] == {'image': base, 'image_format': 'qcow2', 'osinfo': 'linux2022',
                              'image_identity': {'size': os.path.getsize(base), 'mtime_ns': os.stat(base).st_mtime_ns},
                              'disks': [{'path': disk, 'mode': 'overlay'}]}
    assert domain['uuid'] == result['uuid']

    again, warnings = run(args)
    assert again['changed'] is False and again['created'] is False
    assert again['diff']['before'] == again['diff']['after']
    assert again['commands'] == []
    assert again['interfaces'] == result['interfaces']


def test_memory_drift_redefines_in_place(conn, args):
    first = run(args)[0]
    result, warnings = run(dict(args, memory=2048))
    assert result['changed'] is True and result['created'] is False
    assert result['diff']['before']['memory'] == 1024 and result['diff']['after']['memory'] == 2048
    assert result['restart_required'] is True
    assert warnings == ['guest web_cr1_1_1: the change of memory applies at the next boot of the running guest (restart_required)']
    domain = defined(conn)
    assert domain['memory'] == 2048 and domain['uuid'] == first['uuid']
    assert [nic['mac'] for nic in domain['interfaces']] == [nic['mac'] for nic in first['interfaces']]
    assert run(dict(args, memory=2048))[0]['changed'] is False


def test_check_mode_drift_changes_nothing(conn, args):
    run(args)
    before = conn.lookupByName('web_cr1_1_1').XMLDesc(0)
    result = run(dict(args, vcpus=2, autostart=True, networks=[{'network': 'default'}, {'bridge': 'br0'}]), check_mode=True)[0]
    assert result['changed'] is True
    assert result['diff']['after']['vcpus'] == 2 and result['diff']['after']['autostart'] is True
    assert len(result['diff']['after']['interfaces']) == 2
    assert conn.lookupByName('web_cr1_1_1').XMLDesc(0) == before
    assert conn.lookupByName('web_cr1_1_1').autostart() == 0


def test_nics_and_graphics_drift_keep_mac(conn, args):
    first = run(args)[0]
    mac = first['interfaces'][0]['mac']
    changed = dict(args, state='stopped', networks=[{'network': 'default'}, {'bridge': 'br0', 'model': 'e1000', 'mac': '52:54:00:00:00:02'}],
                   graphics={'type': 'none'})
    result = run(changed)[0]
    assert result['changed'] is True and result['state'] == 'stopped' and result['restart_required'] is False
    assert result['interfaces'] == [{'mac': mac, 'network': 'default', 'model': 'virtio'},
                                    {'mac': '52:54:00:00:00:02', 'bridge': 'br0', 'model': 'e1000'}]
    assert defined(conn)['graphics']['type'] == 'none'
    assert run(changed)[0]['changed'] is False


def test_recreate_keeps_uuid_mac_and_disk(conn, args):
    first = run(args)[0]
    disk = first['disks'][0]
    with open(disk, 'rb') as handle:
        content = handle.read()
    result, warnings = run(dict(args, vcpus=2, recreate=True, autostart=True))
    assert result['changed'] is True and result['created'] is True and result['restart_required'] is False
    assert result['uuid'] == first['uuid'] and result['interfaces'] == first['interfaces']
    assert result['state'] == 'running'
    assert conn.lookupByName('web_cr1_1_1').autostart() == 1
    assert defined(conn)['vcpus'] == 2
    assert defined(conn)['ours']['disks'] == [{'path': disk, 'mode': 'overlay'}]
    with open(disk, 'rb') as handle:
        assert handle.read() == content


@pytest.mark.parametrize('sequence', [
    [('present', 'stopped', True), ('present', 'stopped', False), ('running', 'running', True),
     ('present', 'running', False), ('stopped', 'stopped', True), ('stopped', 'stopped', False)],
])
def test_run_states(conn, args, sequence):
    for state, reported, changed in sequence:
        result = run(dict(args, state=state))[0]
        assert (state, result['state'], result['changed']) == (state, reported, changed)
        assert defined(conn)  # always defined


def test_name_and_state_suffice_for_an_existing_guest(conn, args):
    created = run(dict(args, memory=2048, vcpus=2, autostart=True, networks=[{'network': 'default'}, {'bridge': 'br0'}],
                       graphics={'type': 'spice', 'port': 5910}))[0]
    for state, changed in (('stopped', True), ('stopped', False), ('running', True), ('present', False)):
        result, warnings = run({'name': 'web_cr1_1_1', 'uri': URI, 'state': state})
        assert (result['changed'], result['state']) == (changed, 'stopped' if state == 'stopped' else 'running')
        assert result['diff']['after']['memory'] == 2048 and result['interfaces'] == created['interfaces']
        assert warnings == []
    domain = defined(conn)
    assert (domain['memory'], domain['vcpus'], domain['graphics']['port']) == (2048, 2, 5910)
    assert conn.lookupByName('web_cr1_1_1').autostart() == 1


def test_absent_removes_domain_and_overlay_keeps_base(conn, args, base):
    run(args)
    run(dict(args, name='web_cr1_1_2'))
    result = run(dict(args, state='absent'), check_mode=True)[0]
    assert result['changed'] is True and result['diff']['after'] == {'state': 'absent'}
    assert sorted(os.listdir(args['disk_dir'])) == ['web_cr1_1_1.qcow2', 'web_cr1_1_2.qcow2']
    result = run(dict(args, state='absent'))[0]
    assert result['changed'] is True and result['state'] == 'absent'
    assert os.listdir(args['disk_dir']) == ['web_cr1_1_2.qcow2']
    assert os.path.isfile(base)
    assert [d.name() for d in conn.listAllDomains() if d.name().startswith('web')] == ['web_cr1_1_2']
    result = run(dict(args, state='absent'))[0]
    assert result['changed'] is False


def test_absent_removes_the_console_log_it_configured(conn, args, log_dir):
    log = log_dir / 'web_cr1_1_1-console.log'
    assert run(args)[0]['console_log'] == str(log)
    log.write_text('login: ')             # what virtlogd wrote while the guest ran
    (log_dir / 'web_cr1_1_1.log').write_text('qemu')  # libvirt's own log of the domain: not ours
    run(dict(args, state='absent'), check_mode=True)
    assert log.exists()
    run(dict(args, state='absent'))
    assert sorted(os.listdir(str(log_dir))) == ['web_cr1_1_1.log']


def test_absent_keeps_a_console_log_the_definition_moved(conn, args, log_dir, tmp_path):
    """A log path someone else put in the definition is not a file the module configured."""
    run(args)
    elsewhere = tmp_path / 'kept-console.log'
    dom = conn.lookupByName('web_cr1_1_1')
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    conn.defineXML(xml.replace(str(log_dir / 'web_cr1_1_1-console.log'), str(elsewhere)))
    assert defined(conn)['console_log'] == str(elsewhere)
    elsewhere.write_text('login: ')
    (log_dir / 'web_cr1_1_1-console.log').write_text('an older boot')
    assert run(dict(args, state='absent'))[0]['changed'] is True
    assert elsewhere.exists() and (log_dir / 'web_cr1_1_1-console.log').exists()


@pytest.mark.parametrize('replace', ['rebuilt', 'removed'])
def test_replaced_base_under_an_overlay_is_refused(conn, args, base, replace):
    """A base rebuilt in place (or gone) would turn the overlay into a corrupt disk at the next boot."""
    run(args)
    staged = base + '.new'
    subprocess.check_call(['qemu-img', 'create', '-q', '-f', 'qcow2', staged, '64M'])
    os.utime(staged, ns=(1, 1))
    if replace == 'rebuilt':
        os.rename(staged, base)
        expected = 'guest web_cr1_1_1: image %s was replaced after the overlay disk' % base
    else:
        os.unlink(base)
        expected = 'guest web_cr1_1_1: image %s, the base of the overlay disk' % base
    for state, check_mode in (('running', True), ('running', False), ('stopped', False)):
        result = run(dict(args, state=state), check_mode=check_mode)[0]
        assert result['failed'] is True and result['msg'].startswith(expected), result['msg']
        assert 'remove the guest (state=absent)' in result['msg']
    assert conn.lookupByName('web_cr1_1_1').isActive()
    # Removing the guest is the way out, and it leaves the (new) base alone.
    assert run(dict(args, state='absent'))[0]['changed'] is True
    assert os.listdir(args['disk_dir']) == []
    assert os.path.exists(base) == (replace == 'rebuilt')


def test_existing_disk_is_used_never_overwritten_nor_deleted(conn, args):
    disk = os.path.join(args['disk_dir'], 'web_cr1_1_1.qcow2')
    subprocess.check_call(['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '32M'])
    result = run(dict(args, state='present'))[0]
    assert result['changed'] is True and not any('qemu-img create' in c for c in result['commands'])
    assert disk_info(disk)['virtual-size'] == 32 * 1024 ** 2
    assert defined(conn)['ours']['disks'] == []
    run(dict(args, state='absent'))
    assert os.path.isfile(disk)


def test_osinfo_unknown_falls_back_with_warning(conn, args):
    result, warnings = run(dict(args, osinfo='debian12-nonexistent', state='present'))
    assert result['osinfo'] == 'linux2022'
    assert warnings == ["guest web_cr1_1_1: osinfo 'debian12-nonexistent' is unknown to this host's osinfo-db; "
                        "using osinfo_fallback 'linux2022'"]
    known, warnings = run(dict(args, name='web_cr1_1_2', osinfo='debian11', state='present'))
    assert known['osinfo'] == 'debian11' and warnings == []
    assert 'http://debian.org/debian/11' == defined(conn, 'web_cr1_1_2')['osinfo_url']


@pytest.mark.parametrize('overrides, message', [
    (dict(image='/nonexistent/base.qcow2'), 'guest web_cr1_1_1: image /nonexistent/base.qcow2 not found'),
    (dict(image=None), 'guest web_cr1_1_1: image is required to create the guest disk'),
    (dict(disk_size='32M'), 'guest web_cr1_1_1: disk_size 32M is smaller than the virtual size 64M of the image'),
    (dict(networks=[{'network': 'kvmauto-nonexistent'}]),
     'guest web_cr1_1_1: networks[0].network kvmauto-nonexistent is not a libvirt network on test:///default'),
    (dict(name='test'), 'guest test: a domain with this name exists in libvirt but cyris.kvm_auto did not create it'),
    (dict(disk_dir='/nonexistent'), 'guest web_cr1_1_1: disk_dir /nonexistent does not exist'),
    (dict(uri='qemu+unix:///system?socket=/nonexistent'), 'guest web_cr1_1_1: cannot connect to libvirt at uri'),
])
def test_errors_name_guest_and_cause(conn, args, overrides, message):
    for check_mode in (True, False):
        result = run(dict(args, **overrides), check_mode=check_mode)[0]
        assert result['failed'] is True
        assert result['msg'].startswith(message), result['msg']
    assert os.listdir(args['disk_dir']) == []


def test_foreign_domain_is_never_removed(conn, args):
    result = run(dict(args, name='test', state='absent'))[0]
    assert result['failed'] is True and 'did not create it' in result['msg']
    assert conn.lookupByName('test').isActive()


def test_render_failure_removes_the_new_disk(conn, args):
    result = run(dict(args, extra_args=['--memballoon', 'model=bogus,nosuchoption=1']))[0]
    assert result['failed'] is True
    assert result['msg'].startswith('guest web_cr1_1_1: virt-install could not render the domain (rc=1)')
    assert result['rc'] == 1 and result['stderr']
    assert os.listdir(args['disk_dir']) == []


def test_inactive_network_is_refused_before_start(conn, args):
    conn.networkDefineXML('<network><name>kvmauto-down</name><bridge name="kvmautodown0"/></network>')
    try:
        result = run(dict(args, networks=[{'network': 'kvmauto-down'}]))[0]
        assert result['failed'] is True
        assert result['msg'] == 'guest web_cr1_1_1: networks[0].network kvmauto-down is not active (virsh net-start kvmauto-down)'
        assert run(dict(args, state='present', networks=[{'network': 'kvmauto-down'}]))[0]['changed'] is True
    finally:
        conn.networkLookupByName('kvmauto-down').undefine()


def _write_marker(disk):
    subprocess.check_call(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 0 64k', disk], stdout=subprocess.DEVNULL)


def test_reset_makes_the_overlay_anew_on_the_same_base(conn, args, base):
    created = run(dict(args, disk_size='128M'))[0]
    disk = created['disks'][0]
    _write_marker(disk)
    written = os.path.getsize(disk)

    check = run(dict(name=args['name'], uri=URI, state='reset'), check_mode=True)[0]
    assert check['changed'] is True and check['reset'] is True
    assert check['diff']['after']['disk_content'] == 'a new overlay on %s' % base
    assert os.path.getsize(disk) == written

    result = run(dict(name=args['name'], uri=URI, state='reset'))[0]
    assert result['changed'] is True and result['reset'] is True and result['state'] == 'running'
    assert result['uuid'] == created['uuid'] and result['interfaces'] == created['interfaces']
    info = disk_info(disk)
    assert info['full-backing-filename'] == base and info['backing-filename-format'] == 'qcow2'
    assert info['virtual-size'] == 128 * 1024 ** 2
    assert os.path.getsize(disk) < written
    assert [c.split()[1:3] for c in result['commands'] if ' create ' in c] == [['create', '-f']]
    assert not [name for name in os.listdir(args['disk_dir']) if name != os.path.basename(disk)]


def test_reset_of_a_stopped_guest_applies_other_changes_and_starts_it(conn, args):
    run(dict(args, state='stopped'))
    result = run(dict(args, state='reset', memory=2048))[0]
    assert result['state'] == 'running' and result['restart_required'] is False
    assert result['diff']['before']['memory'] == 1024 and result['diff']['after']['memory'] == 2048
    assert defined(conn)['memory'] == 2048


@pytest.mark.parametrize('create, message', [
    (None, 'guest web_cr1_1_1: the domain does not exist in libvirt (test:///default): deploy it before resetting it'),
    (dict(disk_mode='copy'), 'guest web_cr1_1_1: state=reset needs a guest disk that kvm_auto_vm created as an overlay'),
])
def test_reset_errors(conn, args, create, message):
    if create is not None:
        run(dict(args, **create))
    for check_mode in (True, False):
        result = run(dict(name=args['name'], uri=URI, state='reset'), check_mode=check_mode)[0]
        assert result['failed'] is True
        assert result['msg'].startswith(message), result['msg']


def test_access_port_in_use_is_refused_before_any_change(conn, args):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        access = {'port': port, 'listen': '0.0.0.0', 'guest_port': 22, 'mac': '52:54:00:ac:00:01', 'subnet': '100.127.255.0/24'}
        for check_mode in (True, False):
            result = run(dict(args, access=access), check_mode=check_mode)[0]
            assert result['failed'] is True
            assert result['msg'] == ('guest web_cr1_1_1: access port %d is already in use on this host: choose another port '
                                     '(kvm_auto_range_trainee_ports)' % port)
        assert os.listdir(args['disk_dir']) == []
        assert 'web_cr1_1_1' not in [d.name() for d in conn.listAllDomains()]
    finally:
        listener.close()


def test_trainee_hash_is_never_shown(conn, args):
    secret = '$6$saltsalt$' + 'c' * 86
    identity = 'kvm-auto-identity 1\nhostname web\n'
    result = run(dict(args, identity=identity, trainee={'name': 'trainee01', 'password_hash': secret, 'sudo': True}))[0]
    assert result['changed'] is True and 'failed' not in result
    assert secret not in json.dumps(result)
    assert 'trainee trainee01 ' in result['diff']['after']['identity']
    # Not in the definition (nor on QEMU's command line): in the guest's identity file, 0600.
    definition = conn.lookupByName('web_cr1_1_1').XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    path = defined(conn)['identity_file']
    assert secret not in definition and path == os.path.join(args['disk_dir'], 'web_cr1_1_1.identity')
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert read_identity_file(path).splitlines()[-1] == 'trainee trainee01 %s sudo' % secret
    again = run(dict(args, identity=identity, trainee={'name': 'trainee01', 'password_hash': secret, 'sudo': True}))[0]
    assert again['changed'] is False
    bad = run(dict(args, identity=identity, trainee={'name': 'trainee01', 'password_hash': 'plain-secret', 'sudo': True}))[0]
    assert bad['failed'] is True and 'plain-secret' not in json.dumps(bad)
    # Removing the guest removes its identity file with its disk.
    assert run(dict(args, state='absent'))[0]['changed'] is True
    assert not os.path.exists(path)
