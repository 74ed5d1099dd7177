# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kvm_auto_wait action: which jobs it polls, what it returns, how it fails."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from unittest.mock import MagicMock

import pytest

from ansible.playbook.task import Task

from ansible_collections.cyris.kvm_auto.plugins.action import kvm_auto_wait
from ansible_collections.cyris.kvm_auto.plugins.action.kvm_auto_wait import ActionModule, select_jobs

WEB = {'name': 'web-1-1', 'inventory_host': 'kvm1'}
DB = {'name': 'db-1-1', 'inventory_host': 'kvm2'}


@pytest.mark.parametrize('host, names', [
    (None, ['web-1-1', 'db-1-1', 'plain']),
    ('kvm1', ['web-1-1']),
    ('kvm3', []),
])
def test_select_jobs(host, names):
    jobs = [{'ansible_job_id': '1', 'item': WEB}, {'ansible_job_id': '2', 'item': DB},
            {'ansible_job_id': '3', 'item': 'plain'}]
    selected = select_jobs(jobs, host)
    assert [j['item']['name'] if isinstance(j['item'], dict) else j['item'] for j in selected] == names


def _action(args, statuses, monkeypatch, clock=None):
    """The action with its task args, polls answered from ``statuses`` (jid -> list of results) and a fake clock."""
    task = Task()
    task.args = args
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, MagicMock(check_mode=False), loader=None, templar=None,
                          shared_loader_obj=None)
    polled = []

    def job_status(jid, task_vars):
        polled.append(jid)
        return statuses[jid].pop(0)
    action._job_status = job_status
    times = iter(clock or range(0, 100000, 5))
    monkeypatch.setattr(kvm_auto_wait.time, 'monotonic', lambda: next(times))
    monkeypatch.setattr(kvm_auto_wait.time, 'sleep', lambda seconds: None)
    shown = []
    monkeypatch.setattr(kvm_auto_wait.display, 'display', shown.append)
    return action, polled, shown


def test_waits_for_every_job_and_returns_their_results_with_items(monkeypatch):
    running = {'started': True, 'finished': False}
    statuses = {
        '1': [running, {'finished': True, 'changed': True, 'name': 'web-1-1'}],
        '2': [running, running, {'finished': True, 'changed': False, 'name': 'db-1-1'}],
    }
    jobs = [{'ansible_job_id': '1', 'item': WEB}, {'ansible_job_id': '2', 'item': DB}, {'skipped': True, 'item': WEB}]
    action, polled, shown = _action({'jobs': jobs, 'noun': 'guest', 'done': 'running', 'pending': 'booting'},
                                    statuses, monkeypatch)
    slept = []
    monkeypatch.setattr(kvm_auto_wait.time, 'sleep', slept.append)
    result = action.run(task_vars={})
    assert polled == ['1', '2', '1', '2', '2']
    # The first polls come sooner than poll_interval (5).
    assert slept == [1, 2]
    assert not result['failed']
    assert result['changed']
    assert [r.get('name') for r in result['results']] == ['web-1-1', 'db-1-1', None]
    assert [r['item'] for r in result['results']] == [WEB, DB, WEB]
    assert result['results'][2]['skipped']
    assert shown == ['1 of 2 guests running, still booting db-1-1 (10s)', '2 of 2 guests running (15s)']


def test_a_job_of_many_guests_returns_each_guests_result_and_the_changed_ones_diffs(monkeypatch):
    diff = {'before_header': 'guest web-1-1', 'after_header': 'guest web-1-1', 'before': {'memory': 512},
            'after': {'memory': 1024}}
    statuses = {'1': [{'finished': True, 'changed': True, 'diff': [diff],
                       'guests': [{'name': 'web-1-1', 'changed': True}, {'name': 'web-1-2', 'changed': False}]}]}
    job = {'inventory_host': 'kvm1', 'name': 'web-1-1, web-1-2'}
    action, dummy, shown = _action({'jobs': [{'ansible_job_id': '1', 'item': job}], 'host': 'kvm1',
                                    'noun': 'batch of guests', 'plural': 'batches of guests', 'done': 'up',
                                    'results_key': 'guests'}, statuses, monkeypatch)
    result = action.run(task_vars={})
    assert [(r['name'], r['changed']) for r in result['results']] == [('web-1-1', True), ('web-1-2', False)]
    assert result['changed'] and result['diff'] == [diff]
    assert shown == ['1 of 1 batch of guests up on kvm1 (5s)']


def test_nothing_changed_when_no_job_changed(monkeypatch):
    statuses = {'1': [{'finished': True, 'changed': False}]}
    action, dummy, dummy2 = _action({'jobs': [{'ansible_job_id': '1', 'item': 'web'}]}, statuses, monkeypatch)
    result = action.run(task_vars={})
    assert not result['changed'] and not result['failed']


def test_only_the_jobs_of_its_host(monkeypatch):
    statuses = {'2': [{'finished': True, 'changed': False, 'name': 'db-1-1'}]}
    jobs = [{'ansible_job_id': '1', 'item': WEB}, {'ansible_job_id': '2', 'item': DB}]
    action, polled, shown = _action({'jobs': jobs, 'host': 'kvm2', 'noun': 'guest'}, statuses, monkeypatch)
    result = action.run(task_vars={})
    assert polled == ['2']
    assert [r['item'] for r in result['results']] == [DB]
    assert shown == ['1 of 1 guest finished on kvm2 (5s)']


def test_fails_naming_the_image_and_its_error_after_the_others_finish(monkeypatch):
    statuses = {
        'a': [{'finished': True, 'failed': True, 'msg': 'virt-builder: no template debian-13'}],
        'b': [{'finished': False}, {'finished': True, 'changed': True}],
    }
    jobs = [{'ansible_job_id': 'a', 'item': 'web'}, {'ansible_job_id': 'b', 'item': 'db'}]
    action, polled, dummy = _action({'jobs': jobs, 'noun': 'image'}, statuses, monkeypatch)
    result = action.run(task_vars={})
    assert polled == ['a', 'b', 'b']
    assert result['failed']
    assert result['msg'] == 'image web failed: virt-builder: no template debian-13'
    assert len(result['results']) == 2


def test_fails_naming_the_jobs_still_running_at_the_timeout(monkeypatch):
    statuses = {'a': [{'finished': False}] * 4}
    jobs = [{'ansible_job_id': 'a', 'item': 'web'}]
    action, polled, dummy = _action({'jobs': jobs, 'noun': 'image', 'pending': 'building', 'timeout': 12},
                                    statuses, monkeypatch, clock=[0, 5, 10, 15, 20])
    result = action.run(task_vars={})
    assert polled == ['a', 'a', 'a']
    assert result['failed']
    assert result['msg'] == 'image web: still building after 12s (job a); it goes on running in the background'
