# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_connection import connection_vars, guest_uri, uri_error


@pytest.mark.parametrize('host_vars,local,host_uri,expected', [
    ({}, True, 'qemu:///system', 'qemu:///system'),
    # The controller itself: its own URI, whatever the address variables say.
    ({'ansible_host': '192.0.2.1'}, True, 'qemu:///session', 'qemu:///session'),
    ({}, False, 'qemu:///system', 'qemu+ssh://kvm1/system'),
    ({'ansible_host': '2001:db8::5', 'ansible_user': 'lab'}, False, 'qemu:///system', 'qemu+ssh://lab@[2001:db8::5]/system'),
    ({'ansible_port': '2200'}, False, 'qemu:///session', 'qemu+ssh://kvm1:2200/session'),
    ({'ansible_ssh_private_key_file': '/keys/a b'}, False, 'qemu:///system', 'qemu+ssh://kvm1/system?keyfile=/keys/a%20b'),
    ({'ansible_user': 'a@b'}, False, 'qemu:///system', 'qemu+ssh://a%40b@kvm1/system'),
    # A host URI that already names a host is used as it is.
    ({}, False, 'qemu+ssh://root@kvm9/system', 'qemu+ssh://root@kvm9/system'),
    ({'kvm_auto_range_guest_uri': 'qemu+tcp://10.0.0.9/system'}, False, 'qemu:///system', 'qemu+tcp://10.0.0.9/system'),
    ({'kvm_auto_range_guest_uri': 'qemu+ssh://x/system'}, True, 'qemu:///system', 'qemu+ssh://x/system'),
])
def test_guest_uri(host_vars, local, host_uri, expected):
    assert guest_uri('kvm1', host_vars, local, host_uri) == expected


@pytest.mark.parametrize('value,ok', [
    ('qemu+ssh://root@kvm1/system', True),
    ('qemu:///system', True),
    ('kvm1', False),
    ('qemu+ssh://root@kvm1/system extra', False),
    (42, False),
])
def test_uri_error(value, ok):
    assert (uri_error(value) is None) == ok


@pytest.mark.parametrize('domain,expected', [
    ({'name': 'web_cr1_1_1', 'libvirt_uri': 'qemu:///system'},
     {'ansible_connection': 'community.libvirt.libvirt_qemu', 'ansible_host': 'web_cr1_1_1',
      'ansible_libvirt_uri': 'qemu:///system'}),
    # A details file from before the URI was recorded: the plugin's default URI applies.
    ({'name': 'web_cr1_1_1'}, {'ansible_connection': 'community.libvirt.libvirt_qemu', 'ansible_host': 'web_cr1_1_1'}),
])
def test_connection_vars(domain, expected):
    assert connection_vars(domain) == expected
