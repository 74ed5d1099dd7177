# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Facts about one file on this host: is it still the file we recorded, and is it sparse."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# A file whose length exceeds its allocated blocks by more than this factor is mostly holes.
COMPACT_RATIO = 1.1


def file_identity(path, inode=False):
    """Size and mtime of ``path`` (and its inode with ``inode=True``): cheap evidence that a file
    is the one recorded earlier.

    kvm_auto_image records the inode too: any other file at its path is not the image it built.
    The base-image guard of kvm_auto_vm leaves it out: the original image put back (a copy that
    keeps its mtime) has a new inode, and the overlays on it are fine again.
    """
    info = os.stat(path)
    identity = {'size': info.st_size, 'mtime_ns': info.st_mtime_ns}
    if inode:
        identity['inode'] = info.st_ino
    return identity


def allocation(path):
    """(length, allocated bytes) of ``path``: what a full read sends, and what it holds on disk."""
    info = os.stat(path)
    return info.st_size, info.st_blocks * 512


def is_mostly_holes(length, allocated):
    """True when a file of ``length`` bytes with ``allocated`` bytes on disk is not compact."""
    return length > COMPACT_RATIO * allocated
