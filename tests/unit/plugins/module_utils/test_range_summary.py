# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The end of a deploy: phase timings, the details file content and the summary lines."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_summary import (
    deploy_summary, details_to_write, phase_timings)

START = 1764584400.0  # 2025-12-01T10:20:00Z


@pytest.mark.parametrize('starts, expected', [
    ({'plan': START, 'build': START + 4.04, 'copy': START + 194, 'create_and_boot': START + 206},
     {'plan': 4.0, 'build': 190.0, 'copy': 12.0, 'create_and_boot': 62.0, 'total': 268.0}),
    # A phase left out by tags: the one before lasts until the next that ran.
    ({'plan': START, 'build': None, 'copy': START + 10, 'create_and_boot': START + 20},
     {'plan': 10.0, 'build': None, 'copy': 10.0, 'create_and_boot': 248.0, 'total': 268.0}),
    ({'plan': '%s' % START, 'build': '', 'copy': None, 'create_and_boot': None},
     {'plan': 268.0, 'build': None, 'copy': None, 'create_and_boot': None, 'total': 268.0}),
])
def test_phase_timings(starts, expected):
    timings = phase_timings(START + 268, starts)
    assert timings.pop('started') == '2025-12-01T10:20:00Z'
    assert timings.pop('ended') == '2025-12-01T10:24:28Z'
    assert timings == expected


def test_phase_timings_without_any_start():
    assert phase_timings(START, {})['total'] == 0


DETAILS = {
    'range_id': '42',
    'guests': [
        {'id': 'web', 'domains': [
            {'name': 'cr42-web-1-1', 'guest': 'web', 'inventory_host': 'kvm1', 'instance': 1, 'state': 'running',
             'interfaces': [{'address': '10.42.1.2'}, {'address': None}, {'address': '192.168.122.7'}]},
            {'name': 'cr42-web-2-1', 'guest': 'web', 'inventory_host': 'kvm2', 'instance': 2, 'state': 'running',
             'interfaces': []}]},
        {'id': 'db', 'domains': [
            {'name': 'cr42-db-1-1', 'guest': 'db', 'inventory_host': 'kvm1', 'instance': 1, 'state': None,
             'interfaces': [{'address': '10.42.1.3'}]},
            {'name': 'cr42-db', 'guest': 'db', 'inventory_host': 'kvm1', 'instance': None, 'state': 'shut off',
             'interfaces': []}]},
    ],
}
TIMINGS = {'plan': 4.0, 'build': 190.0, 'copy': 12.0, 'create_and_boot': 62.0, 'total': 268.0}


def test_summary_lists_hosts_instances_guests_changes_file_and_times():
    report = {'built': ['kvmauto-ab'], 'copied': [{'image': 'kvmauto-ab', 'inventory_host': 'kvm2'},
                                                  {'image': 'kvmauto-ab', 'inventory_host': 'kvm3', 'from': 'kvm2',
                                                   'bytes_sent': 275012345}], 'linked': [],
              'created': ['cr42-web-1-1'], 'changed_guests': ['cr42-web-1-1', 'cr42-db-1-1']}
    assert deploy_summary(DETAILS, report, '/var/lib/d/range_details-cr42.yml', TIMINGS) == [
        'range 42',
        'host kvm1',
        '  instance 1',
        '    cr42-web-1-1 (web): running, 10.42.1.2, 192.168.122.7',
        '    cr42-db-1-1 (db): not created, 10.42.1.3',
        '  cr42-db (db): shut off, no address known',
        'host kvm2',
        '  instance 2',
        '    cr42-web-2-1 (web): running, no address known',
        'changed in this run: built kvmauto-ab; copied kvmauto-ab -> kvm2, kvmauto-ab -> kvm3 (275.0 MB from kvm2); '
        'created cr42-web-1-1; changed cr42-db-1-1',
        'details file: /var/lib/d/range_details-cr42.yml',
        'time: plan 4s, build 3m10s, copy 12s, create+boot 1m02s, total 4m28s',
    ]


def test_summary_of_a_rerun_and_of_check_mode():
    details = {'range_id': '7', 'guests': []}
    assert deploy_summary(details, {}, '/d.yml', {'plan': 3.2, 'build': None, 'total': 3.2}) == [
        'range 7', 'changed in this run: nothing', 'details file: /d.yml', 'time: plan 3s, total 3s']
    assert deploy_summary(details, {'linked': [{'image': 'i', 'inventory_host': 'localhost'}]}, '/d.yml',
                          check_mode=True) == [
        'range 7 (check mode: nothing was changed)', 'would change: linked i -> localhost',
        'details file: /d.yml (not written in check mode)']


@pytest.mark.parametrize('recorded, timings', [
    # Nothing else changed: the file keeps the timings of the run that wrote it.
    ({'range_id': '7', 'guests': [], 'timings': {'total': 300.0}}, {'total': 300.0}),
    ({'range_id': '7', 'guests': [{'id': 'web'}], 'timings': {'total': 300.0}}, {'total': 3.0}),
    ({'range_id': '7', 'guests': []}, {'total': 3.0}),
    (None, {'total': 3.0}),
])
def test_details_to_write(recorded, timings):
    details = {'range_id': '7', 'guests': [], 'timings': {'total': 3.0}}
    written = details_to_write(details, recorded)
    assert written['timings'] == timings
    assert details['timings'] == {'total': 3.0}
