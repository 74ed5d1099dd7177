# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._libvirt_common import (
    LibvirtConnection, find_ours, foreign_reason, metadata_element, metadata_namespace, put_metadata)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_spec import METADATA_NS

NETWORK_NS = 'https://github.com/cyris-kvm-auto/cyris.kvm_auto/network/1'


class ProbeError(Exception):
    pass


class Connection(LibvirtConnection):
    error = ProbeError


def test_namespaces():
    assert metadata_namespace('network') == NETWORK_NS
    # kvm_auto_vm's domains carry the namespace of kind vm
    assert metadata_namespace('vm') == METADATA_NS


def test_metadata_element_has_the_kvmauto_prefix_though_vm_registered_it():
    # _vm_spec (imported above) registers the prefix kvmauto for the vm namespace.
    text = ET.tostring(metadata_element('network', {'owner': 'cr1'}), encoding='unicode')
    assert text == '<kvmauto:network xmlns:kvmauto="%s" owner="cr1" />' % NETWORK_NS
    assert find_ours(ET.fromstring('<network><metadata>%s</metadata></network>' % text), 'network').get('owner') == 'cr1'


@pytest.mark.parametrize('xml, expected_children', [
    ('<network><name>n</name><uuid>u</uuid><bridge name="b"/></network>', ['name', 'uuid', 'metadata', 'bridge']),
    ('<network><bridge name="b"/></network>', ['metadata', 'bridge']),
    ('<domain><name>n</name><title>t</title><memory>1</memory></domain>', ['name', 'title', 'metadata', 'memory']),
])
def test_put_metadata_makes_metadata_where_libvirt_keeps_it(xml, expected_children):
    root = ET.fromstring(xml)
    put_metadata(root, 'network', metadata_element('network', {'owner': 'cr1'}))
    assert [child.tag for child in root] == expected_children


def test_put_metadata_replaces_ours_and_keeps_others():
    root = ET.fromstring('<network><name>n</name><metadata><x:y xmlns:x="urn:other"/>'
                         '<kvmauto:network xmlns:kvmauto="%s" owner="old"/></metadata></network>' % NETWORK_NS)
    put_metadata(root, 'network', metadata_element('network', {'owner': 'new'}))
    reparsed = ET.fromstring(ET.tostring(root, encoding='unicode'))
    assert [child.tag for child in reparsed.find('metadata')] == ['{urn:other}y', '{%s}network' % NETWORK_NS]
    assert find_ours(reparsed, 'network').get('owner') == 'new'


def test_find_ours_ignores_another_kind_and_other_programs():
    root = ET.fromstring('<network><metadata><x:network xmlns:x="urn:other"/>'
                         '<kvmauto:vm xmlns:kvmauto="%s"/></metadata></network>' % METADATA_NS)
    assert find_ours(root, 'network') is None
    assert find_ours(root, 'vm') is not None


@pytest.mark.parametrize('kind, ours, owner, expected', [
    ('network', None, 'cr1', r'^the libvirt network of this name was not created by cyris\.kvm_auto \(no <metadata> in '
                             r'namespace https://github\.com/cyris-kvm-auto/cyris\.kvm_auto/network/1\); rename it or remove it$'),
    ('vm', None, None, r'^the libvirt domain of this name was not created by cyris\.kvm_auto'),
    ('network', {'owner': 'cr2'}, 'cr1', r'^it was created by cyris\.kvm_auto for owner cr2, not cr1; refusing to change it$'),
    ('network', {'owner': 'cr1'}, 'cr1', None),
    ('network', {'owner': 'cr2'}, None, None),
])
def test_foreign_reason(kind, ours, owner, expected):
    reason = foreign_reason(kind, ours, owner)
    assert reason is None if expected is None else re.search(expected, reason)


def test_connection_raises_the_subclass_error():
    with pytest.raises(ProbeError, match=r'cannot connect to libvirt at uri qemu\+unix:///system\?socket=/nonexistent/sock'):
        Connection('qemu+unix:///system?socket=/nonexistent/sock')


def test_networks_of_the_test_driver():
    handle = Connection('test:///default')
    try:
        assert handle.lookup_network('default').name() == 'default'
        assert handle.lookup_network('kvmauto-nonexistent') is None
        assert handle.network_active('default') is True
        assert handle.network_active('kvmauto-nonexistent') is None
    finally:
        handle.close()
