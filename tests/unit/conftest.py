# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make ``ansible_collections.cyris.kvm_auto`` importable when pytest runs from a plain clone.

ansible-test lays the collection out under ``ansible_collections/cyris/kvm_auto`` itself; a
plain ``pytest tests/unit`` from a git clone gets the same import path from a symlink tree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys
import tempfile

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collections_root():
    parts = _ROOT.split(os.sep)
    if parts[-3:-2] == ['ansible_collections']:
        return os.sep.join(parts[:-3])
    tree = os.path.join(tempfile.gettempdir(), 'cyris-kvm-auto-unit-%d' % os.getuid())
    link = os.path.join(tree, 'ansible_collections', 'cyris', 'kvm_auto')
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.realpath(link) != os.path.realpath(_ROOT):
        if os.path.islink(link):
            os.unlink(link)
        os.symlink(_ROOT, link)
    return tree


_TREE = _collections_root()
if _TREE not in sys.path:
    sys.path.insert(0, _TREE)
