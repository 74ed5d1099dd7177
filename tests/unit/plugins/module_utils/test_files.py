# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._files import allocation, file_identity, is_mostly_holes

MIB = 1024 ** 2


def test_file_identity_with_and_without_inode(tmp_path):
    path = tmp_path / 'image'
    path.write_bytes(b'x' * 10)
    info = os.stat(str(path))
    assert file_identity(str(path)) == {'size': 10, 'mtime_ns': info.st_mtime_ns}
    assert file_identity(str(path), inode=True) == {'size': 10, 'mtime_ns': info.st_mtime_ns, 'inode': info.st_ino}


def test_a_copy_back_keeps_the_identity_without_inode(tmp_path):
    original = tmp_path / 'image'
    original.write_bytes(b'base')
    before = os.stat(str(original))
    copy = tmp_path / 'copy'
    copy.write_bytes(b'base')
    os.utime(str(copy), ns=(before.st_atime_ns, before.st_mtime_ns))
    os.rename(str(copy), str(original))
    assert file_identity(str(original)) == {'size': 4, 'mtime_ns': before.st_mtime_ns}
    assert file_identity(str(original), inode=True)['inode'] != before.st_ino


def test_allocation_of_a_sparse_file(tmp_path):
    path = str(tmp_path / 'sparse')
    with open(path, 'wb') as handle:
        handle.write(b'data')
        handle.truncate(64 * MIB)
    length, allocated = allocation(path)
    assert length == 64 * MIB and allocated < MIB
    assert is_mostly_holes(length, allocated)


@pytest.mark.parametrize('length, allocated, expected', [
    (8 * 1024 * MIB, 816 * MIB, True),
    (816 * MIB, 816 * MIB, False),
    (1100, 1000, False),
    (1101, 1000, True),
    (96, 4096, False),
])
def test_is_mostly_holes(length, allocated, expected):
    assert is_mostly_holes(length, allocated) is expected
