# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the tests that run kvm_auto_vm (and kvm_auto_vms) against libvirt's test driver."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import libvirt
import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _vm_spec

TEST_DRIVER_URI = 'test:///default'


@pytest.fixture
def conn():
    # test:///default keeps its domains only while a connection is open: hold one per test.
    handle = libvirt.open(TEST_DRIVER_URI)
    yield handle
    for dom in handle.listAllDomains():
        if dom.name() != 'test':
            if dom.isActive():
                dom.destroy()
            dom.undefine()
    handle.close()


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    """Console logs under the test's own directory: state=absent removes them, never this host's."""
    path = tmp_path / 'log'
    path.mkdir()
    monkeypatch.setattr(_vm_spec, 'SYSTEM_CONSOLE_LOG_DIR', str(path))
    return path
