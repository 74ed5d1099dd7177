# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The range lock: who holds it, taking it (also by racing processes), taking over, releasing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import multiprocessing
import os

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _range_lock as lock
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_lock import LockError


def _owner(pid=None, operation='deploy', **fields):
    """The owner of this test's own run (a live process) unless ``fields`` say otherwise."""
    owner = lock.controller_owner(pid or os.getpid(), operation, since='2026-12-01T12:00:00Z')
    owner.update(fields)
    return owner


def _gone_pid():
    """A pid no process can have: above the kernel's largest."""
    with open('/proc/sys/kernel/pid_max') as handle:
        return int(handle.read()) + 1


@pytest.mark.parametrize('comm, expected', [
    ('bash', 1244482),
    ('ansible-playbook (x) y', 1244482),
])
def test_process_start_reads_field_22_after_the_command_name(tmp_path, comm, expected):
    (tmp_path / '42').mkdir()
    (tmp_path / '42' / 'stat').write_text(
        '42 (%s) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %d 1000 10\n' % (comm, expected))
    assert lock.process_start(42, proc=str(tmp_path)) == expected
    assert lock.process_start(43, proc=str(tmp_path)) is None


def test_controller_owner_names_this_run(tmp_path):
    machine_id = tmp_path / 'machine-id'
    machine_id.write_text('abc123\n')
    owner = lock.controller_owner(os.getpid(), 'reset', etc_files=[str(tmp_path / 'none'), str(machine_id)])
    assert owner['machine_id'] == 'abc123'
    assert owner['pid'] == os.getpid()
    assert owner['pid_start'] == lock.process_start(os.getpid())
    assert owner['operation'] == 'reset'
    assert owner['boot_id']
    assert owner['since'].endswith('Z')
    without = lock.controller_owner(os.getpid(), 'reset', etc_files=[str(tmp_path / 'none')])
    assert without['machine_id'] == 'hostname:' + without['controller']


@pytest.mark.parametrize('change, gone', [
    ({}, False),
    ({'operation': 'destroy', 'since': '2026-12-01T13:00:00Z'}, False),
    ({'machine_id': 'another-controller', 'pid': 'GONE'}, False),
    ({'boot_id': 'an-earlier-boot'}, True),
    ({'pid': 'GONE'}, True),
    ({'pid_start': 'OTHER'}, True),
    ({'unreadable': True}, False),
])
def test_holder_is_gone_only_for_runs_of_this_controller_that_ended(change, gone):
    holder = _owner()
    for field, value in change.items():
        holder[field] = {'GONE': _gone_pid(), 'OTHER': holder['pid_start'] + 1}.get(value, value)
    assert lock.holder_is_gone(holder, _owner()) is gone


def test_take_then_same_run_again_then_another_run(tmp_path):
    path = str(tmp_path / 'cr42.lock')
    assert lock.take(path, _owner()) == (True, True, None)
    assert json.loads(open(path).read()) == _owner()
    assert lock.take(path, _owner(operation='reset')) == (True, False, None)
    other = _owner(pid=os.getppid())
    assert lock.take(path, other) == (False, False, _owner())
    assert os.listdir(str(tmp_path)) == ['cr42.lock']


def test_check_mode_takes_nothing(tmp_path):
    path = str(tmp_path / 'cr42.lock')
    assert lock.take(path, _owner(), check_mode=True) == (True, True, None)
    assert not os.path.exists(path)
    lock.take(path, _owner(pid=os.getppid()))
    assert lock.take(path, _owner(), check_mode=True) == (False, False, _owner(pid=os.getppid()))
    assert lock.release(path, _owner(pid=os.getppid()), check_mode=True) == (True, None)
    assert os.path.exists(path)


def test_release_only_its_own_lock(tmp_path):
    path = str(tmp_path / 'cr42.lock')
    assert lock.release(path, _owner()) == (False, None)
    lock.take(path, _owner(pid=os.getppid()))
    assert lock.release(path, _owner()) == (False, _owner(pid=os.getppid()))
    assert lock.read_holder(path) == _owner(pid=os.getppid())
    assert lock.release(path, _owner(pid=os.getppid())) == (True, None)
    assert not os.path.exists(path)


def test_a_file_that_is_no_lock_holds_it_and_is_never_gone(tmp_path):
    path = tmp_path / 'cr42.lock'
    path.write_text('locked by hand\n')
    holder = lock.read_holder(str(path))
    assert holder == {'unreadable': True}
    assert lock.take(str(path), _owner()) == (False, False, holder)
    assert not lock.holder_is_gone(holder, _owner())
    assert 'unknown holder' in lock.describe(holder)


def test_takeover_replaces_exactly_the_gone_holder(tmp_path):
    path = str(tmp_path / 'cr42.lock')
    gone = _owner(pid=_gone_pid())
    lock.take(path, gone)
    assert lock.take(path, _owner()) == (False, False, gone)
    assert lock.take(path, _owner(), gone_holder=gone) == (True, True, gone)
    assert lock.read_holder(path) == _owner()


def test_takeover_leaves_a_lock_someone_else_took_meanwhile(tmp_path):
    path = str(tmp_path / 'cr42.lock')
    gone = _owner(pid=_gone_pid())
    newer = _owner(pid=os.getppid())
    lock.take(path, newer)  # the gone run's lock was replaced by another run already
    assert lock.take(path, _owner(), gone_holder=gone) == (False, False, newer)
    assert lock.read_holder(path) == newer


def test_missing_directory_is_one_clear_error(tmp_path):
    with pytest.raises(LockError, match='the directory of the lock .*/none/cr42.lock does not exist'):
        lock.take(str(tmp_path / 'none' / 'cr42.lock'), _owner())


def _race(path, gone_holder, start, results):
    start.wait()
    taken, dummy, dummy2 = lock.take(path, _owner(), gone_holder=gone_holder)
    results.put((os.getpid(), taken))


@pytest.mark.parametrize('stale', [False, True], ids=['free', 'stale'])
def test_racing_processes_one_takes_the_lock(tmp_path, stale):
    """Six processes (each its own run: its own pid) try at the same moment; exactly one wins."""
    context = multiprocessing.get_context('fork')
    for round_number in range(5):
        path = str(tmp_path / ('cr%d.lock' % round_number))
        gone = _owner(pid=_gone_pid()) if stale else None
        if gone:
            lock.take(path, gone)
        start, results = context.Barrier(6), context.Queue()
        workers = [context.Process(target=_race, args=(path, gone, start, results)) for dummy in range(6)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=30) for dummy in workers]
        for worker in workers:
            worker.join()
        winners = [pid for pid, taken in outcomes if taken]
        assert len(winners) == 1
        assert lock.read_holder(path)['pid'] == winners[0]
        assert sorted(os.listdir(str(tmp_path))) == sorted('cr%d.lock' % n for n in range(round_number + 1))


@pytest.mark.parametrize('waited, expected', [
    (3600, 'range 42 on host_1 is locked by the deploy run (pid 4242 on controller ctl, since 2026-12-01 12:00:00 UTC):'
           ' lock /run/lock/cr42.lock, waited 3600s; if that run is gone, remove the file and run again'),
    (None, 'range 42 on host_1 is locked by the deploy run (pid 4242 on controller ctl, since 2026-12-01 12:00:00 UTC):'
        ' lock /run/lock/cr42.lock, not waiting (timeout 0); if that run is gone, remove the file and run again'),
])
def test_held_message_names_resource_holder_and_path(waited, expected):
    holder = {'operation': 'deploy', 'pid': 4242, 'controller': 'ctl', 'since': '2026-12-01T12:00:00Z'}
    assert lock.held_message('range 42 on host_1', holder, '/run/lock/cr42.lock', waited) == expected
