# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Guest disks of kvm_auto_vm: a qcow2 overlay on the shared base image, or a full copy.

The argv builders are pure; ``create_guest_disk`` runs them through CommandRunner, writes
to a temporary name beside the final one and renames it into place only when complete, so
an interrupted run never leaves a half-made disk that a later run would take for the guest's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.cyris.kvm_auto.plugins.module_utils._sizes import format_size
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_spec import VmError

TEMP_SUFFIX = '.kvm-auto-tmp'


def image_info_argv(qemu_img, path):
    # --force-share: the base image may be open (read-only) by running guests.
    return [qemu_img, 'info', '--output=json', '--force-share', path]


def parse_image_info(text):
    """{format, virtual_size, actual_size, backing} from ``qemu-img info --output=json``."""
    info = json.loads(text)
    return {
        'format': info['format'],
        'virtual_size': int(info['virtual-size']),
        'actual_size': int(info.get('actual-size') or 0),
        'backing': info.get('full-backing-filename') or info.get('backing-filename'),
    }


def overlay_argv(qemu_img, base, base_format, dest, size=None):
    """A qcow2 overlay whose backing file is ``base`` (recorded with its format, so libvirt
    never has to probe it)."""
    argv = [qemu_img, 'create', '-f', 'qcow2', '-F', base_format, '-b', base, dest]
    if size is not None:
        argv.append(str(size))
    return argv


def copy_argv(qemu_img, base, base_format, dest):
    """A standalone qcow2 copy of ``base``."""
    return [qemu_img, 'convert', '-f', base_format, '-O', 'qcow2', base, dest]


def resize_argv(qemu_img, path, size):
    return [qemu_img, 'resize', '-f', 'qcow2', path, str(size)]


def target_size(disk_size, base_info):
    """Virtual size to give the guest disk, or None to keep the base's; refuse to shrink."""
    if disk_size is None or disk_size == base_info['virtual_size']:
        return None
    if disk_size < base_info['virtual_size']:
        raise VmError('disk_size %s is smaller than the virtual size %s of the image' % (
            format_size(disk_size), format_size(base_info['virtual_size'])))
    return disk_size


def free_bytes(directory):
    stat = os.statvfs(directory)
    return stat.f_bavail * stat.f_frsize


def _no_space(stderr):
    return 'No space left on device' in (stderr or '')


def create_guest_disk(runner, qemu_img, guest, base_info):
    """Create ``guest['disk']`` from ``guest['image']``; the caller made sure it is absent."""
    dest = guest['disk']
    size = target_size(guest['disk_size'], base_info)
    temp = dest + TEMP_SUFFIX
    if os.path.exists(temp):
        os.unlink(temp)  # left by an interrupted run: never complete, never in use
    if guest['disk_mode'] == 'copy':
        needed = base_info['actual_size']
        available = free_bytes(guest['disk_dir'])
        if available < needed:
            raise VmError('out of disk space in disk_dir %s: a copy of %s needs %s, %s free' % (
                guest['disk_dir'], guest['image'], format_size(needed), format_size(available)))
        commands = [copy_argv(qemu_img, guest['image'], base_info['format'], temp)]
        if size is not None:
            commands.append(resize_argv(qemu_img, temp, size))
    else:
        commands = [overlay_argv(qemu_img, guest['image'], base_info['format'], temp, size)]
    try:
        for argv in commands:
            rc, out, err = runner.run(argv, field='disk_mode=%s' % guest['disk_mode'], check_rc=False)
            if rc != 0:
                cause = 'out of disk space in disk_dir %s' % guest['disk_dir'] if _no_space(err) else 'command failed'
                raise VmError('disk %s: %s with rc=%d: %s' % (dest, cause, rc, runner.commands[-1]),
                              rc=rc, stdout=out, stderr=err, cmd=runner.commands[-1])
        os.rename(temp, dest)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def remove_disks(paths, protected):
    """Delete the files in ``paths`` that exist, never one in ``protected``; return those deleted."""
    protected = set(os.path.realpath(p) for p in protected if p)
    removed = []
    for path in paths:
        if os.path.realpath(path) in protected or not os.path.exists(path):
            continue
        os.unlink(path)
        removed.append(path)
    return removed
