# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inventory plugin cyris.kvm_auto.range, run as Ansible runs it (ansible-inventory)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_details import details_problem

# Where conftest.py made ansible_collections.cyris.kvm_auto importable.
import ansible_collections.cyris.kvm_auto as _collection

COLLECTIONS_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_collection.__path__[0]))))


def domain(name, guest, instance, entry_point=False, address=None, uri='qemu:///system'):
    found = {'name': name, 'guest': guest, 'host': 'host_1', 'inventory_host': 'localhost', 'instance': instance,
             'index': 1, 'entry_point': entry_point, 'state': 'running', 'interfaces': [], 'address': address}
    if uri:
        found['libvirt_uri'] = uri
    return found


DETAILS = {
    'range_id': 123,
    'hosts': [],
    'guests': [
        {'id': 'desktop', 'domains': [domain('desktop_cr123_1_1', 'desktop', 1, True, '123.1.1.2'),
                                      domain('desktop_cr123_2_1', 'desktop', 2, True, '123.2.1.2')]},
        {'id': 'webserver', 'domains': [domain('webserver_cr123_1_1', 'webserver', 1, uri='qemu+ssh://root@kvm2/system')]},
    ],
}


def inventory(tmp_path, config, details=None):
    """``ansible-inventory --list`` of a configuration file: (rc, parsed output, stderr)."""
    ranges = tmp_path / 'ranges'
    ranges.mkdir(exist_ok=True)
    if details is not None:
        (ranges / 'range_details-cr123.yml').write_text(yaml.safe_dump(details))
    source = tmp_path / 'lab.cyris_range.yml'
    source.write_text(yaml.safe_dump(config))
    # Found as users find it: the default 'auto' inventory plugin reads the file's plugin key.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_INVENTORY_UNPARSED_FAILED='true',
               ANSIBLE_NOCOLOR='1')
    env.pop('ANSIBLE_INVENTORY_ENABLED', None)
    run = subprocess.run([sys.executable, '-m', 'ansible.cli.inventory', '-i', str(source), '--list'],
                         capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    return run.returncode, json.loads(run.stdout, object_hook=_unwrap) if run.returncode == 0 else None, run.stderr


def _unwrap(value):
    """ansible-inventory marks what an inventory plugin read as unsafe (never templated)."""
    return value['__ansible_unsafe'] if list(value) == ['__ansible_unsafe'] else value


def test_every_guest_with_its_groups_and_connection(tmp_path):
    rc, listed, err = inventory(tmp_path, {'plugin': 'cyris.kvm_auto.range', 'details_files': ['ranges/range_details-cr*.yml']},
                                DETAILS)
    assert rc == 0, err
    assert sorted(listed['kvm_auto_range_guests']['hosts']) == ['desktop_cr123_1_1', 'desktop_cr123_2_1', 'webserver_cr123_1_1']
    assert sorted(listed['kvm_auto_range_cr123']['hosts']) == sorted(listed['kvm_auto_range_guests']['hosts'])
    host_vars = listed['_meta']['hostvars']
    assert host_vars['desktop_cr123_2_1'] == {
        'ansible_connection': 'community.libvirt.libvirt_qemu', 'ansible_host': 'desktop_cr123_2_1',
        'ansible_libvirt_uri': 'qemu:///system', 'kvm_auto_range_guest_id': 'desktop', 'kvm_auto_range_kvm_host': 'localhost',
        'kvm_auto_range_entry_point': True, 'kvm_auto_range_guest_address': '123.2.1.2', 'kvm_auto_range_instance': 2}
    assert host_vars['webserver_cr123_1_1']['ansible_libvirt_uri'] == 'qemu+ssh://root@kvm2/system'


def test_constructed_groups(tmp_path):
    config = {'plugin': 'cyris.kvm_auto.range', 'details_files': ['ranges/range_details-cr123.yml'],
              'groups': {'entry_points': 'kvm_auto_range_entry_point'},
              'keyed_groups': [{'key': 'kvm_auto_range_guest_id', 'prefix': 'guest'}]}
    rc, listed, err = inventory(tmp_path, config, DETAILS)
    assert rc == 0, err
    assert sorted(listed['entry_points']['hosts']) == ['desktop_cr123_1_1', 'desktop_cr123_2_1']
    assert listed['guest_webserver']['hosts'] == ['webserver_cr123_1_1']


def test_a_pattern_may_match_nothing(tmp_path):
    rc, listed, err = inventory(tmp_path, {'plugin': 'cyris.kvm_auto.range', 'details_files': ['ranges/*.yml']})
    assert rc == 0, err
    assert 'kvm_auto_range_guests' not in listed


@pytest.mark.parametrize('config,details,message', [
    ({'details_files': ['ranges/range_details-cr9.yml']}, None, 'range_details-cr9.yml does not exist'),
    ({'details_files': ['ranges/range_details-cr123.yml']}, {'range_id': 123, 'guests': [{'id': 'a'}]},
     'range_details-cr123.yml is not a range details file: guests[0] has no list of domains'),
    ({'details_files': ['ranges/range_details-cr123.yml']}, ['a list'],
     'range_details-cr123.yml is not a range details file: it has no range_id'),
])
def test_a_file_that_is_not_there_or_not_details_is_an_error_naming_it(tmp_path, config, details, message):
    rc, dummy, err = inventory(tmp_path, dict(config, plugin='cyris.kvm_auto.range'), details)
    assert rc != 0
    assert message in ' '.join(err.split())


@pytest.mark.parametrize('details,problem', [
    (DETAILS, None),
    ({'range_id': 1, 'guests': []}, None),
    ({'guests': []}, 'it has no range_id'),
    ({'range_id': 1}, 'it has no list of guests'),
    ({'range_id': 1, 'guests': [{'domains': [{'name': 'a', 'guest': 'a'}]}]}, 'guests[0].domains[0] has no inventory_host'),
    ({'range_id': 1, 'guests': [{'domains': ['x']}]}, 'guests[0].domains[0] has no name, guest, inventory_host'),
])
def test_details_problem(details, problem):
    assert details_problem(details) == problem
