# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whole module runs against libvirt's test driver: real AnsibleModule, real libvirt API;
only the hypervisor is libvirt's in-memory one (its networks make no bridges)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import io
import json

import libvirt
import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cyris.kvm_auto.plugins.module_utils._net_libvirt import NetLibvirt
from ansible_collections.cyris.kvm_auto.plugins.module_utils._net_run import NetRun
from ansible_collections.cyris.kvm_auto.plugins.module_utils._net_spec import parse_network_xml
from ansible_collections.cyris.kvm_auto.plugins.modules.kvm_auto_network import argument_spec

URI = 'test:///default'
NAME = 'cr1-1-office'
ARGS = {'name': NAME, 'bridge': 'kvr1-1-1', 'owner': 'cr1', 'uri': URI}
FOREIGN = "<network><name>%s</name><bridge name='kvrforeign'/></network>" % NAME


@pytest.fixture
def conn():
    # test:///default keeps its networks only while a connection is open: hold one per test.
    handle = libvirt.open(URI)
    yield handle
    for network in handle.listAllNetworks():
        if network.name() != 'default':
            if network.isActive():
                network.destroy()
            network.undefine()
    handle.close()


def run(args, check_mode=False, diff=True):
    """Run the module; return (result, warnings)."""
    stdout = io.StringIO()
    warnings = []
    with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)):
        module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
        module.warn = warnings.append
        with contextlib.redirect_stdout(stdout):
            with pytest.raises(SystemExit):
                NetRun(module).run()
    result = json.loads(stdout.getvalue())
    result.pop('invocation', None)  # ansible-core 2.19 returns it, 2.21 does not
    return result, warnings


def defined(conn, name=NAME):
    network = conn.networkLookupByName(name)
    return dict(parse_network_xml(network.XMLDesc(0)), active=bool(network.isActive()), autostart=bool(network.autostart()))


def network_names(conn):
    return sorted(network.name() for network in conn.listAllNetworks())


def test_create_check_real_rerun(conn):
    result, warnings = run(ARGS, check_mode=True)
    assert result['changed'] is True and 'failed' not in result
    assert (result['bridge'], result['active'], result['autostart'], result['uuid']) == ('kvr1-1-1', True, True, None)
    assert result['diff']['before'] == {'state': 'absent'}
    assert result['diff']['after']['bridge'] == 'kvr1-1-1'
    assert network_names(conn) == ['default']

    result, warnings = run(ARGS)
    assert result['changed'] is True and warnings == []
    network = defined(conn)
    assert result == {'changed': True, 'name': NAME, 'bridge': 'kvr1-1-1', 'active': True, 'autostart': True,
                      'uuid': network['uuid'], 'diff': result['diff']}
    assert (network['bridge'], network['stp'], network['delay'], network['extra']) == ('kvr1-1-1', 'off', '0', [])
    assert network['ours'] == {'owner': 'cr1'} and network['active'] and network['autostart']

    again, warnings = run(ARGS)
    assert again['changed'] is False and warnings == []
    assert again['diff']['before'] == again['diff']['after']
    assert again['uuid'] == result['uuid']

    without_diff = run(ARGS, diff=False)[0]
    assert without_diff['changed'] is False and 'diff' not in without_diff


def _drift(conn, xml_change):
    """Redefine our network by hand, as an operator with virsh net-edit would."""
    network = conn.networkLookupByName(NAME)
    network.destroy()
    conn.networkDefineXML(xml_change(network.XMLDesc(0))).create()


@pytest.mark.parametrize('xml_change, field, before, after', [
    (lambda xml: xml.replace("name='kvr1-1-1'", "name='virbr9'"), 'bridge', 'virbr9', 'kvr1-1-1'),
    (lambda xml: xml.replace("stp='off'", "stp='on'"), 'stp', 'on', 'off'),
    (lambda xml: xml.replace('</network>', "<forward mode='nat'/><ip address='10.9.0.1' prefix='24'/></network>"),
     'extra', ['forward', 'ip'], []),
    (lambda xml: xml.replace('</network>', "<mtu size='9000'/></network>"), 'mtu', 9000, None),
])
def test_drift_is_shown_and_corrected(conn, xml_change, field, before, after):
    created = run(ARGS)[0]
    _drift(conn, xml_change)
    check, check_warnings = run(ARGS, check_mode=True)
    assert check['changed'] is True
    assert (check['diff']['before'][field], check['diff']['after'][field]) == (before, after)
    assert defined(conn)[field] == before

    result, warnings = run(ARGS)
    assert result['changed'] is True and result['diff'] == check['diff']
    # Running guests' ports are plugged in again by the module itself: nothing to warn about.
    assert warnings == [] == check_warnings
    network = defined(conn)
    assert network[field] == after and network['extra'] == [] and network['bridge'] == 'kvr1-1-1'
    assert network['active'] and network['uuid'] == created['uuid']
    assert run(ARGS)[0]['changed'] is False


def test_uuid_and_mac_kept_on_redefinition(conn):
    uuid = '6e391c44-7289-4888-8e43-df1ae86d9aa2'
    conn.networkDefineXML(
        "<network><name>%s</name><uuid>%s</uuid><metadata><k:network xmlns:k='https://github.com/cyris-kvm-auto/"
        "cyris.kvm_auto/network/1' owner='cr1'/></metadata><bridge name='kvr1-1-1' stp='off' delay='0'/>"
        "<mac address='52:54:00:11:22:33'/></network>" % (NAME, uuid))
    result, warnings = run(dict(ARGS, mtu=1400))
    assert result['changed'] is True and warnings == []  # it was stopped: nothing to restart
    assert (result['diff']['before']['mtu'], result['diff']['after']['mtu']) == (None, 1400)
    network = defined(conn)
    assert (network['mtu'], network['mac'], network['uuid']) == (1400, '52:54:00:11:22:33', uuid)
    assert network['active'] and network['autostart']


@pytest.mark.parametrize('make_drift', [
    lambda network: network.setAutostart(0),
    lambda network: network.destroy(),
])
def test_autostart_and_activity_corrected_without_restart(conn, make_drift):
    run(ARGS)
    make_drift(conn.networkLookupByName(NAME))
    result, warnings = run(ARGS)
    assert result['changed'] is True and warnings == []
    assert result['active'] and result['autostart']
    assert run(ARGS)[0]['changed'] is False


@pytest.mark.parametrize('state', ['present', 'absent'])
def test_foreign_network_refused_and_untouched(conn, state):
    conn.networkDefineXML(FOREIGN)
    result, warnings = run(dict(ARGS, state=state))
    assert result['failed'] is True
    assert result['msg'] == ('network cr1-1-office: the libvirt network of this name was not created by cyris.kvm_auto '
                             '(no <metadata> in namespace https://github.com/cyris-kvm-auto/cyris.kvm_auto/network/1); '
                             'rename it or remove it')
    assert conn.networkLookupByName(NAME).XMLDesc(0).count('kvrforeign') == 1
    assert not conn.networkLookupByName(NAME).isActive()


def test_network_of_another_owner_refused(conn):
    run(ARGS)
    for state in ('present', 'absent'):
        result = run(dict(ARGS, owner='cr2', state=state))[0]
        assert result['msg'] == 'network cr1-1-office: it was created by cyris.kvm_auto for owner cr1, not cr2; refusing to change it'
    assert defined(conn)['active']


def test_bridge_of_another_network_refused(conn):
    result = run(dict(ARGS, bridge='virbr0'), check_mode=True)[0]
    assert result['msg'] == ("network cr1-1-office: bridge: 'virbr0' is already the bridge of libvirt network default; "
                             "choose another bridge name")
    assert network_names(conn) == ['default']


@pytest.mark.parametrize('args, message', [
    (dict(ARGS, bridge='kvr0123456789abc'), "network cr1-1-office: bridge: 'kvr0123456789abc' is longer than 15 characters"),
    (dict(ARGS, bridge=None), 'network cr1-1-office: bridge: required with state=present'),
    (dict(ARGS, owner=None), 'network cr1-1-office: owner: required with state=present'),
    (dict(ARGS, uri='qemu+unix:///system?socket=/nonexistent/sock'),
     'network cr1-1-office: cannot connect to libvirt at uri qemu+unix:///system?socket=/nonexistent/sock'),
])
def test_errors_name_the_network_and_the_field(conn, args, message):
    result = run(args)[0]
    assert result['failed'] is True and result['msg'].startswith(message)


def test_absent(conn):
    created = run(ARGS)[0]
    args = {'name': NAME, 'state': 'absent', 'uri': URI}
    check = run(args, check_mode=True)[0]
    assert check['changed'] is True
    assert check['diff'] == {'before': dict(created['diff']['after']), 'after': {'state': 'absent'}}
    assert NAME in network_names(conn) and defined(conn)['active']

    result = run(args)[0]
    assert result == {'changed': True, 'name': NAME, 'bridge': None, 'active': False, 'autostart': False, 'uuid': None,
                      'diff': check['diff']}
    assert network_names(conn) == ['default']
    again = run(args)[0]
    assert again['changed'] is False and again['diff'] == {'before': {'state': 'absent'}, 'after': {'state': 'absent'}}


def test_bridge_users_reads_every_network(conn):
    run(ARGS)
    handle = NetLibvirt(URI)
    try:
        assert handle.bridge_users('virbr0') == ['default']
        assert handle.bridge_users('kvr1-1-1') == [NAME]
        assert handle.bridge_users('kvr-unused') == []
    finally:
        handle.close()
