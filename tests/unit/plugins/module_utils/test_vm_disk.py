# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import time

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cyris.kvm_auto.plugins.module_utils._runner import CommandRunner
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_disk import (
    TEMP_SUFFIX, copy_argv, create_guest_disk, image_info_argv, overlay_argv, parse_image_info,
    remove_disks, resize_argv, target_size)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_spec import VmError

GIB = 1024 ** 3


@pytest.mark.parametrize('argv, expected', [
    (image_info_argv('qemu-img', '/b.qcow2'), ['qemu-img', 'info', '--output=json', '--force-share', '/b.qcow2']),
    (overlay_argv('qemu-img', '/b.qcow2', 'qcow2', '/d/g.qcow2'),
     ['qemu-img', 'create', '-f', 'qcow2', '-F', 'qcow2', '-b', '/b.qcow2', '/d/g.qcow2']),
    (overlay_argv('qemu-img', '/b.img', 'raw', '/d/g.qcow2', 20 * GIB),
     ['qemu-img', 'create', '-f', 'qcow2', '-F', 'raw', '-b', '/b.img', '/d/g.qcow2', str(20 * GIB)]),
    (copy_argv('qemu-img', '/b.img', 'raw', '/d/g.qcow2'), ['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', '/b.img', '/d/g.qcow2']),
    (resize_argv('qemu-img', '/d/g.qcow2', 8 * GIB), ['qemu-img', 'resize', '-f', 'qcow2', '/d/g.qcow2', str(8 * GIB)]),
])
def test_argv_builders(argv, expected):
    assert argv == expected


def test_parse_image_info():
    text = json.dumps({'format': 'qcow2', 'virtual-size': 6 * GIB, 'actual-size': 123,
                       'full-backing-filename': '/b.qcow2', 'backing-filename': 'b.qcow2'})
    assert parse_image_info(text) == {'format': 'qcow2', 'virtual_size': 6 * GIB, 'actual_size': 123, 'backing': '/b.qcow2'}


@pytest.mark.parametrize('disk_size, expected', [
    (None, None),
    (6 * GIB, None),
    (20 * GIB, 20 * GIB),
])
def test_target_size(disk_size, expected):
    assert target_size(disk_size, {'virtual_size': 6 * GIB}) == expected


def test_target_size_refuses_to_shrink():
    with pytest.raises(VmError, match='disk_size 5G is smaller than the virtual size 6G'):
        target_size(5 * GIB, {'virtual_size': 6 * GIB})


@pytest.fixture
def runner():
    with patch_module_args({}):
        module = AnsibleModule(argument_spec={})
    return CommandRunner(module, 'guest g')


@pytest.fixture
def base(tmp_path):
    path = str(tmp_path / 'base.qcow2')
    subprocess.check_call(['qemu-img', 'create', '-q', '-f', 'qcow2', path, '64M'])
    return path


def _info(path):
    return parse_image_info(subprocess.check_output(['qemu-img', 'info', '--output=json', '-U', path]))


def _guest(tmp_path, base, mode, size=None):
    disk_dir = tmp_path / 'disks'
    disk_dir.mkdir(exist_ok=True)
    return {'name': 'g', 'image': base, 'disk': str(disk_dir / 'g.qcow2'), 'disk_dir': str(disk_dir),
            'disk_mode': mode, 'disk_size': size}


@pytest.mark.parametrize('mode, size, virtual, backing', [
    ('overlay', None, 64 * 1024 ** 2, True),
    ('overlay', 20 * GIB, 20 * GIB, True),
    ('copy', None, 64 * 1024 ** 2, False),
    ('copy', GIB, GIB, False),
])
def test_create_guest_disk(tmp_path, runner, base, mode, size, virtual, backing):
    guest = _guest(tmp_path, base, mode, size)
    create_guest_disk(runner, 'qemu-img', guest, _info(base))
    info = _info(guest['disk'])
    assert info['format'] == 'qcow2'
    assert info['virtual_size'] == virtual
    assert (info['backing'] == base) is backing
    assert os.listdir(guest['disk_dir']) == ['g.qcow2']
    # qemu-img wrote to the temporary name; only the rename made the final one
    assert all((guest['disk'] + TEMP_SUFFIX) in command for command in runner.commands)


@pytest.mark.parametrize('size', [None, 20 * GIB, 1024 * GIB])
def test_overlay_is_small_and_quick_whatever_its_size(tmp_path, runner, base, size):
    guest = _guest(tmp_path, base, 'overlay', size)
    info = _info(base)
    started = time.time()
    create_guest_disk(runner, 'qemu-img', guest, info)
    assert time.time() - started < 1
    assert os.path.getsize(guest['disk']) < 1024 * 1024


def test_create_guest_disk_failure_leaves_nothing(tmp_path, runner, base):
    guest = _guest(tmp_path, base, 'overlay')
    info = dict(_info(base), format='raw-but-wrong')  # qemu-img rejects the unknown backing format
    with pytest.raises(VmError) as err:
        create_guest_disk(runner, 'qemu-img', guest, info)
    assert str(err.value).startswith('disk %s: command failed with rc=1' % guest['disk'])
    assert err.value.context['rc'] == 1 and err.value.context['stderr']
    assert os.listdir(guest['disk_dir']) == []


def test_create_guest_disk_replaces_stale_temp(tmp_path, runner, base):
    guest = _guest(tmp_path, base, 'overlay')
    with open(guest['disk'] + TEMP_SUFFIX, 'w') as handle:
        handle.write('half a disk from an interrupted run')
    create_guest_disk(runner, 'qemu-img', guest, _info(base))
    assert os.listdir(guest['disk_dir']) == ['g.qcow2']
    assert _info(guest['disk'])['backing'] == base


def test_copy_refuses_when_out_of_space(tmp_path, runner, base):
    guest = _guest(tmp_path, base, 'copy')
    info = dict(_info(base), actual_size=1024 ** 5)  # a petabyte never fits
    with pytest.raises(VmError, match='out of disk space in disk_dir %s' % guest['disk_dir']):
        create_guest_disk(runner, 'qemu-img', guest, info)
    assert runner.commands == []


def test_remove_disks_keeps_protected_and_missing(tmp_path):
    keep, drop = tmp_path / 'base.qcow2', tmp_path / 'g.qcow2'
    keep.write_text('base')
    drop.write_text('overlay')
    removed = remove_disks([str(drop), str(keep), str(tmp_path / 'gone.qcow2')], [str(keep), None])
    assert removed == [str(drop)]
    assert keep.exists() and not drop.exists()
