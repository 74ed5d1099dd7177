# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kvm_auto_lock module, run as Ansible runs it: one attempt, its result, its failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _range_lock as lock
from ansible_collections.cyris.kvm_auto.plugins.modules import kvm_auto_lock

# The directory holding ansible_collections/, for the module's own imports.
COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(lock.__file__), *(['..'] * 5)))


def _run_module(tmp_path, **args):
    args_file = tmp_path / 'args.json'
    args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_ROOT)
    done = subprocess.run([sys.executable, kvm_auto_lock.__file__, str(args_file)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    return json.loads(done.stdout)


def _owner(pid):
    return lock.controller_owner(pid, 'deploy', since='2026-12-01T12:00:00Z')


def test_takes_then_reports_the_holder_to_another_run(tmp_path):
    path = str(tmp_path / 'cr42.lock')
    first = _run_module(tmp_path, path=path, operation='deploy', resource='range 42', owner=_owner(os.getpid()))
    assert first['changed'] and first['taken'] and first['holder'] is None
    second = _run_module(tmp_path, path=path, operation='reset', resource='range 42', owner=_owner(os.getppid()))
    assert not second['changed'] and not second['taken']
    assert second['holder'] == _owner(os.getpid())


def test_check_mode_takes_nothing(tmp_path):
    path = str(tmp_path / 'cr42.lock')
    result = _run_module(tmp_path, path=path, operation='deploy', resource='range 42', owner=_owner(os.getpid()),
                         _ansible_check_mode=True)
    assert result['changed'] and not os.path.exists(path)


def test_releases_only_its_own_lock(tmp_path):
    path = str(tmp_path / 'cr42.lock')
    lock.take(path, _owner(os.getpid()))
    refused = _run_module(tmp_path, path=path, state='absent', resource='range 42', owner=_owner(os.getppid()))
    assert not refused['changed'] and refused['holder'] == _owner(os.getpid())
    released = _run_module(tmp_path, path=path, state='absent', resource='range 42', owner=_owner(os.getpid()))
    assert released['changed'] and not os.path.exists(path)


def test_fails_naming_the_resource_and_the_lock(tmp_path):
    path = str(tmp_path / 'none' / 'cr42.lock')
    result = _run_module(tmp_path, path=path, operation='deploy', resource='range 42 on host_1',
                         owner=_owner(os.getpid()))
    assert result['failed']
    assert result['msg'] == 'range 42 on host_1: the directory of the lock %s does not exist' % path
