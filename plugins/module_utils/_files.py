# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Files on this host: is one still the file we recorded, is it sparse; writing a private file safely."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import secrets

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


def fsync_dir(directory):
    """Make a rename or removal in ``directory`` durable."""
    fd = os.open(directory or '.', os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path, text, mode=0o600, temp=None):
    """Write ``text`` to ``path`` atomically (temporary file, fsync, rename, fsync of the directory),
    with ``mode`` from the file's creation on: no moment where others could read it.

    ``temp``: the temporary file's path (default: a random hidden name beside ``path``).
    """
    directory = os.path.dirname(path) or '.'
    tmp = temp or os.path.join(directory, '.%s.%s.tmp' % (os.path.basename(path), secrets.token_hex(8)))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have taken more than group and other
        with os.fdopen(fd, 'wb') as handle:
            handle.write(text.encode('utf-8'))
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    fsync_dir(directory)
