# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kvm_auto_lock action: the run's owner, waiting, taking over a gone holder, releasing, failing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import multiprocessing
import os
from unittest.mock import MagicMock

import pytest

from ansible.playbook.task import Task

from ansible_collections.cyris.kvm_auto.plugins.action import kvm_auto_lock
from ansible_collections.cyris.kvm_auto.plugins.action.kvm_auto_lock import ActionModule, run_pid
from ansible_collections.cyris.kvm_auto.plugins.module_utils import _range_lock as lock


def _gone_pid():
    with open('/proc/sys/kernel/pid_max') as handle:
        return int(handle.read()) + 1


def _other_run(**fields):
    """A live run of this controller that is not this test's run: the test's parent process."""
    owner = lock.controller_owner(os.getppid(), 'deploy', since='2026-12-01T12:00:00Z')
    owner.update(fields)
    return owner


def _action(args, monkeypatch, check_mode=False, before_attempt=None):
    """The action with its task args; each module attempt runs _range_lock on this machine, after
    ``before_attempt(number)`` (what other runs do meanwhile). The clock advances 5s per reading."""
    task = Task()
    task.args = args
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, MagicMock(check_mode=check_mode), loader=None, templar=None,
                          shared_loader_obj=None)
    attempts = []

    def attempt(module_args, task_vars):
        attempts.append(module_args)
        if before_attempt:
            before_attempt(len(attempts))
        if module_args['state'] == 'absent':
            changed, holder = lock.release(module_args['path'], module_args['owner'], check_mode)
            return {'changed': changed, 'holder': holder}
        taken, changed, holder = lock.take(module_args['path'], module_args['owner'], module_args.get('takeover'),
                                           check_mode)
        return {'changed': changed, 'taken': taken, 'holder': holder}
    action._attempt = attempt
    times = iter(range(0, 100000, 5))
    monkeypatch.setattr(kvm_auto_lock.time, 'monotonic', lambda: next(times))
    slept = []
    monkeypatch.setattr(kvm_auto_lock.time, 'sleep', slept.append)
    shown = []
    monkeypatch.setattr(kvm_auto_lock.display, 'display', shown.append)
    return action, attempts, shown, slept


def _take_args(path, **more):
    return dict({'path': path, 'operation': 'deploy', 'resource': 'range 42 on host_1', 'poll_interval': 5}, **more)


def test_run_pid_is_the_parent_of_a_worker_and_else_this_process():
    assert run_pid() == os.getpid()
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    worker = context.Process(target=lambda: queue.put(run_pid()))
    worker.start()
    assert queue.get(timeout=30) == os.getpid()
    worker.join()


def test_takes_a_free_lock_for_this_run(tmp_path, monkeypatch):
    path = str(tmp_path / 'cr42.lock')
    action, attempts, shown, slept = _action(_take_args(path), monkeypatch)
    result = action.run(task_vars={})
    assert result['changed'] and not result.get('failed')
    assert result['owner']['pid'] == os.getpid() and result['owner']['operation'] == 'deploy'
    assert lock.read_holder(path) == result['owner']
    assert not slept and not shown
    assert 'takeover' not in attempts[0] or attempts[0]['takeover'] is None


def test_waits_for_the_holder_showing_one_line_then_takes_it(tmp_path, monkeypatch):
    path = str(tmp_path / 'cr42.lock')
    other = _other_run()
    lock.take(path, other)

    def other_run_releases_at_the_fourth_attempt(number):
        if number == 4:
            lock.release(path, other)
    action, attempts, shown, slept = _action(_take_args(path), monkeypatch,
                                             before_attempt=other_run_releases_at_the_fourth_attempt)
    result = action.run(task_vars={})
    assert result['changed'] and not result.get('failed')
    assert len(attempts) == 4 and slept == [5, 5, 5]
    assert shown == ['range 42 on host_1: waiting for the deploy run (pid %d on controller %s, since 2026-12-01 12:00:00'
                     ' UTC) to release the lock %s' % (os.getppid(), other['controller'], path)]
    assert lock.read_holder(path)['pid'] == os.getpid()


def test_fails_at_the_timeout_naming_the_holder(tmp_path, monkeypatch):
    path = str(tmp_path / 'cr42.lock')
    lock.take(path, _other_run())
    action, attempts, shown, slept = _action(_take_args(path, timeout=12), monkeypatch)
    result = action.run(task_vars={})
    assert result['failed'] and not result.get('changed')
    assert result['msg'].startswith('range 42 on host_1 is locked by the deploy run (pid %d' % os.getppid())
    assert result['msg'].endswith('lock %s, waited 15s; if that run is gone, remove the file and run again' % path)
    assert slept == [5, 2]
    assert lock.read_holder(path) == _other_run()


def test_timeout_0_fails_at_once(tmp_path, monkeypatch):
    path = str(tmp_path / 'cr42.lock')
    lock.take(path, _other_run())
    action, attempts, shown, slept = _action(_take_args(path, timeout=0), monkeypatch)
    result = action.run(task_vars={})
    assert result['failed'] and 'not waiting (timeout 0)' in result['msg']
    assert len(attempts) == 1 and not slept


@pytest.mark.parametrize('gone_fields', [{'pid': 'GONE'}, {'pid_start': 'OTHER'}, {'boot_id': 'earlier-boot'}])
def test_takes_over_a_holder_of_this_controller_that_is_gone(tmp_path, monkeypatch, gone_fields):
    path = str(tmp_path / 'cr42.lock')
    gone = _other_run()
    for field, value in gone_fields.items():
        gone[field] = {'GONE': _gone_pid(), 'OTHER': gone['pid_start'] + 1}.get(value, value)
    lock.take(path, gone)
    action, attempts, shown, slept = _action(_take_args(path), monkeypatch)
    result = action.run(task_vars={})
    assert result['changed'] and not result.get('failed')
    assert result['replaced'] == gone
    assert attempts[1]['takeover'] == gone and not slept
    assert result['warnings'] == ['range 42 on host_1: took over the lock %s from %s, which is gone'
                                  % (path, lock.describe(gone))]
    assert lock.read_holder(path)['pid'] == os.getpid()


def test_never_takes_over_a_holder_of_another_controller(tmp_path, monkeypatch):
    path = str(tmp_path / 'cr42.lock')
    lock.take(path, _other_run(machine_id='another-controller', pid=_gone_pid()))
    action, attempts, shown, slept = _action(_take_args(path, timeout=5), monkeypatch)
    result = action.run(task_vars={})
    assert result['failed']
    assert all(a.get('takeover') is None for a in attempts)


def test_check_mode_takes_nothing_and_warns_about_the_holder(tmp_path, monkeypatch):
    path = str(tmp_path / 'cr42.lock')
    lock.take(path, _other_run())
    action, attempts, shown, slept = _action(_take_args(path), monkeypatch, check_mode=True)
    result = action.run(task_vars={})
    assert result['changed'] and not result.get('failed') and not slept
    assert result['warnings'][0].endswith('; a run would wait for it')
    assert lock.read_holder(path) == _other_run()


def test_release_leaves_the_lock_of_another_run_in_place(tmp_path, monkeypatch):
    path = str(tmp_path / 'cr42.lock')
    lock.take(path, _other_run())
    action, attempts, shown, slept = _action({'path': path, 'state': 'absent', 'resource': 'range 42'}, monkeypatch)
    result = action.run(task_vars={})
    assert not result['changed'] and not result.get('failed')
    assert result['warnings'][0].endswith('left in place')
    assert lock.read_holder(path) == _other_run()
    assert 'operation' not in attempts[0]


def test_releases_its_own_lock(tmp_path, monkeypatch):
    path = str(tmp_path / 'cr42.lock')
    action, dummy, dummy2, dummy3 = _action(_take_args(path), monkeypatch)
    action.run(task_vars={})
    action, dummy, dummy2, dummy3 = _action({'path': path, 'state': 'absent', 'resource': 'range 42'}, monkeypatch)
    result = action.run(task_vars={})
    assert result['changed'] and not os.path.exists(path)


@pytest.mark.parametrize('more', [{'timeout': -1}, {'poll_interval': 0}])
def test_refuses_a_negative_timeout_or_no_poll_interval(tmp_path, monkeypatch, more):
    action, attempts, dummy, dummy2 = _action(_take_args(str(tmp_path / 'cr42.lock'), **more), monkeypatch)
    result = action.run(task_vars={})
    assert result['failed'] and result['msg'].startswith('range 42 on host_1: timeout must be 0 or more')
    assert not attempts
