# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import shlex

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_transfer import (
    bytes_sent, part_name, place_image, remote_shell, rsync_argv, transfer_rounds)

OWN = ['ssh', '-o', 'BatchMode=yes', '-o', 'Compression=no', '-o', 'ControlMaster=no', '-o', 'ControlPath=none']


@pytest.mark.parametrize('host_vars, key, expected', [
    ({}, None, OWN),
    ({'ansible_port': 2222, 'ansible_user': 'root'}, '/k/id', OWN + ['-p', '2222', '-l', 'root', '-i', '/k/id']),
    # The host's own options follow ours: ssh takes the first value of an option, so its
    # ControlMaster=auto cannot make the transfer share (or compress on) Ansible's connection.
    ({'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o ControlMaster=auto',
      'ansible_ssh_extra_args': "-o 'ProxyJump=jump host'"}, None,
     OWN + ['-o', 'StrictHostKeyChecking=no', '-o', 'ControlMaster=auto', '-o', 'ProxyJump=jump host']),
])
def test_remote_shell(host_vars, key, expected):
    assert remote_shell(host_vars, key) == expected


@pytest.mark.parametrize('address, compress, expected_tail', [
    ('10.0.0.1', True, ['--compress', '--compress-choice=zstd', '--compress-level=1', '--rsh=ssh -p 22',
                        '--', '/b/img', '10.0.0.1:/i/.img.part']),
    ('10.0.0.1', False, ['--rsh=ssh -p 22', '--', '/b/img', '10.0.0.1:/i/.img.part']),
    ('fd00::1', False, ['--rsh=ssh -p 22', '--', '/b/img', '[fd00::1]:/i/.img.part']),
])
def test_rsync_argv(address, compress, expected_tail):
    argv = rsync_argv('/b/img', '/i/.img.part', address, ['ssh', '-p', '22'], compress)
    assert argv == ['rsync', '--sparse', '--perms', '--chmod=F600', '--stats'] + expected_tail


def test_rsync_argv_quotes_the_shell_as_rsync_splits_it():
    argv = rsync_argv('/b/img', '/i/p', 'h', ['ssh', '-i', "/keys/o'neil key"])
    assert shlex.split(argv[-4][len('--rsh='):]) == ['ssh', '-i', "/keys/o'neil key"]


def test_rsync_argv_on_this_machine_neither_compresses_nor_uses_ssh():
    assert rsync_argv('/b/img', '/i/p') == ['rsync', '--sparse', '--perms', '--chmod=F600', '--stats', '--', '/b/img', '/i/p']


@pytest.mark.parametrize('stats, expected', [
    ('Number of files: 1 (reg: 1)\nTotal bytes sent: 275,012,345\nTotal bytes received: 35\n', 275012345),
    ('Total bytes sent: 275.012.345\n', 275012345),
    ('Total bytes sent: 0\n', 0),
    ('rsync error: some files could not be transferred\n', None),
    (None, None),
])
def test_bytes_sent(stats, expected):
    assert bytes_sent(stats) == expected


def test_part_name():
    assert part_name('/i/debian.0123.qcow2') == '/i/.debian.0123.qcow2.part'


def sha(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest()


def test_place_image_renames_a_verified_file(tmp_path):
    part, dest = tmp_path / '.img.part', tmp_path / 'img'
    part.write_bytes(b'image')
    part.chmod(0o644)
    assert place_image(str(part), str(dest), sha(b'image'), check_mode=True) == (True, None)
    assert part.exists() and not dest.exists()
    assert place_image(str(part), str(dest), sha(b'image')) == (True, None)
    assert dest.read_bytes() == b'image' and not part.exists() and dest.stat().st_mode & 0o777 == 0o600
    # A rerun: the image is there; a leftover part goes.
    part.write_bytes(b'leftover')
    assert place_image(str(part), str(dest), sha(b'image')) == (False, None)
    assert not part.exists()


def test_place_image_removes_a_corrupt_file_and_names_it(tmp_path):
    part, dest = tmp_path / '.img.part', tmp_path / 'img'
    part.write_bytes(b'imagf')
    changed, error = place_image(str(part), str(dest), sha(b'image'))
    assert not changed and error == '%s arrived with checksum %s, not the built image\'s %s: removed' % (
        dest, sha(b'imagf'), sha(b'image'))
    assert not part.exists() and not dest.exists()
    assert place_image(str(part), str(dest), sha(b'image')) == (False, 'nothing was received at %s' % part)


def layout(*names, **local):
    return [{'inventory_host': n, 'local': n in local.get('local', ())} for n in names]


def copies(image, *hosts):
    return [{'image': image, 'inventory_host': h, 'src': '/build/' + image, 'dest': '/img/%s.f' % image,
             'checksum': 'sha256:' + image} for h in hosts]


def sends(found):
    return [[(s['image'], s['sender'], s['inventory_host'], s['shared_with']) for s in r['sends']] for r in found]


def test_transfer_rounds_fan_out_from_the_hosts_that_hold_the_image():
    hosts = ['kvm%d' % i for i in range(1, 5)]
    host_vars = dict((h, {'ansible_host': '10.0.0.%s' % h[-1]}) for h in hosts)
    found = transfer_rounds(copies('img', *hosts), layout(*hosts), {('img', 'kvm4')}, host_vars, fanout=True)
    assert sends(found) == [[('img', 'kvm4', 'kvm1', []), ('img', 'localhost', 'kvm2', [])],
                            [('img', 'kvm4', 'kvm3', [])]]
    first = found[0]['sends'][0]
    # A host serves its own copy, to the address the controller knows the receiver by.
    assert first['argv'][-2:] == ['/img/img.f', '10.0.0.1:/img/.img.f.part']
    assert found[0]['label'] == 'round 1: img kvm4 -> kvm1, img localhost -> kvm2'


def test_transfer_rounds_without_fanout_push_from_the_controller_one_at_a_time():
    found = transfer_rounds(copies('img', 'kvm1', 'kvm2'), layout('kvm1', 'kvm2'), {('img', 'kvm2')}, {}, fanout=False)
    assert sends(found) == [[('img', 'localhost', 'kvm1', [])]]
    assert found[0]['sends'][0]['argv'][-2] == '/build/img'


def test_hosts_on_shared_storage_get_the_image_once():
    host_vars = {'kvm1': {'kvm_auto_range_image_storage': 'nfs1'}, 'kvm2': {'kvm_auto_range_image_storage': 'nfs1'},
                 'kvm3': {}}
    hosts = layout('kvm1', 'kvm2', 'kvm3')
    found = transfer_rounds(copies('img', 'kvm1', 'kvm2', 'kvm3'), hosts, set(), host_vars, fanout=False)
    assert sends(found) == [[('img', 'localhost', 'kvm1', ['kvm2'])], [('img', 'localhost', 'kvm3', [])]]
    # One of them holds it: all of them do.
    assert transfer_rounds(copies('img', 'kvm1', 'kvm2'), hosts, {('img', 'kvm2')}, host_vars) == []


def test_transfer_rounds_leave_out_images_not_built_yet_and_copy_locally_on_the_controller():
    unbuilt = [dict(c, dest=None) for c in copies('new', 'kvm1')]
    found = transfer_rounds(unbuilt + copies('img', 'ctl'), layout('kvm1', 'ctl', local=['ctl']), set(), {})
    assert sends(found) == [[('img', 'localhost', 'ctl', [])]]
    assert found[0]['sends'][0]['argv'][-3:] == ['--', '/build/img', '/img/.img.f.part']


def test_the_controller_as_a_host_copies_from_its_build_beside_the_rounds_and_may_serve():
    hosts = layout('ctl', 'kvm1', 'kvm2', 'kvm3', local=['ctl'])
    found = transfer_rounds(copies('img', 'ctl', 'kvm1', 'kvm2', 'kvm3'), hosts, set(), {}, fanout=True)
    # Never from a host over SSH to the controller's own name: from its build directory, in round 1.
    assert sends(found) == [[('img', 'localhost', 'ctl', []), ('img', 'localhost', 'kvm1', [])],
                            [('img', 'kvm1', 'kvm2', []), ('img', 'localhost', 'kvm3', [])]]
    assert found[0]['sends'][0]['argv'][-3:] == ['--', '/build/img', '/img/.img.f.part']
    # Holding the image, it serves the others over SSH like any host.
    found = transfer_rounds(copies('img', 'ctl', 'kvm1'), hosts, {('img', 'ctl')}, {'kvm1': {'ansible_host': 'k1'}}, True)
    assert sends(found) == [[('img', 'ctl', 'kvm1', [])]]
    assert found[0]['sends'][0]['argv'][-1] == 'k1:/img/.img.f.part'
