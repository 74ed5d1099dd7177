# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Facts about files on the controller that the range plan needs: content digests, file systems."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

_CHUNK = 1024 * 1024


def file_digest(path):
    """SHA-256 over a controller file's content, or over a directory's names and contents; None when missing."""
    b_path = path.encode('utf-8', 'surrogateescape') if isinstance(path, str) else path
    digest = hashlib.sha256()
    if os.path.isfile(b_path):
        _hash_file(digest, b_path)
        return digest.hexdigest()
    if os.path.isdir(b_path):
        for root, dirs, files in os.walk(b_path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, b_path) + b'\0')
                if os.path.isfile(full):
                    _hash_file(digest, full)
        return digest.hexdigest()
    return None


def tolerant_digest(path):
    """``file_digest``, or ``missing``: destroy names images as deploy did, but a file removed since must not stop it."""
    return file_digest(path) or 'missing'


def _hash_file(digest, b_path):
    with open(b_path, 'rb') as handle:
        for block in iter(lambda: handle.read(_CHUNK), b''):
            digest.update(block)


def same_filesystem(first, second):
    """True when both directories exist on one file system (a hard link between them works)."""
    try:
        return os.stat(first).st_dev == os.stat(second).st_dev
    except OSError:
        return False
