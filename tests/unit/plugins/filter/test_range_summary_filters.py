# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters of the end of a deploy, and the hosts of each guest batch, from a real plan."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.cyris.kvm_auto.plugins.filter.range_plan import (
    range_deploy_steps, range_details, range_details_to_write, range_plan, range_public, range_summary, range_timings)

RANGE = '''
- host_settings:
  - id: host_1
    mgmt_addr: localhost
    account: root
  - id: host_2
    mgmt_addr: localhost
    account: root
- guest_settings:
  - id: desktop
    basevm_type: kvm-auto
    image_name: debian-12
    vcpus: 1
    memory: 512
    disk_size: 8G
- clone_settings:
  - range_id: 42
    hosts:
    - host_id: host_1
      instance_number: 1
      guests:
      - guest_id: desktop
        number: 2
    - host_id: host_2
      instance_number: 1
      guests:
      - guest_id: desktop
        number: 1
'''
SETTINGS = {'image_dir': '/var/lib/libvirt/images/kvm-auto', 'disk_dir': '/var/lib/libvirt/images',
            'build_dir': '/var/lib/cyris-kvm-auto/images', 'build_parallel': 2, 'boot_parallel': 3,
            'link_local_images': True, 'network': 'cyris', 'uri': 'qemu:///system'}
HOSTVARS = {'localhost': {'ansible_connection': 'local'}, 'kvm1': {'kvm_auto_range_host_id': 'host_1'},
            'kvm2': {'kvm_auto_range_host_id': 'host_2'}}


def _plan(tmp_path):
    plan = range_plan(RANGE, SETTINGS, hostvars=HOSTVARS, inventory_hosts=['kvm1', 'kvm2'], salt='s',
                      base_dir=str(tmp_path))
    assert plan['errors'] == []
    return range_public(plan)


def test_each_guest_batch_names_its_hosts(tmp_path):
    steps = range_deploy_steps(_plan(tmp_path), [], SETTINGS)
    assert [(len(b['members']), b['hosts']) for b in steps['guest_batches']] == [(3, ['kvm1', 'kvm2'])]


def test_details_carry_the_timings_and_the_summary_names_every_guest(tmp_path):
    plan = _plan(tmp_path)
    timings = range_timings(1764584468.0, plan=1764584400.0, build='1764584404.0', copy=None, boot=1764584450)
    assert (timings['plan'], timings['build'], timings['copy'], timings['create_and_boot'], timings['total']) == (
        4.0, 46.0, None, 18.0, 68.0)
    details = range_details(plan, [{'name': vm['name'], 'state': 'running'} for vm in plan['vms']], timings=timings)
    assert details['timings'] == timings
    assert 'timings' not in range_details(plan)
    lines = range_summary(details, {'created': [plan['vms'][0]['name']]}, '/d/range_details-cr42.yml', timings)
    assert [line for line in lines if line.startswith('host ')] == ['host kvm1', 'host kvm2']
    assert lines[-3:] == ['changed in this run: created %s' % plan['vms'][0]['name'],
                          'details file: /d/range_details-cr42.yml', 'time: plan 4s, build 46s, create+boot 18s, total 1m08s']
    assert range_details_to_write(details, dict(details, timings={'total': 1.0}))['timings'] == {'total': 1.0}
    assert range_details_to_write(details, None) == details
