# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two ansible-playbook runs and one lock: the second waits until the first releases it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys
import time

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _range_lock as lock

COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(lock.__file__), *(['..'] * 5)))

# Take the lock, note the time (taken_at), hold it for `hold` seconds, note the time just
# before releasing it (releasing_at), release it.
PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - cyris.kvm_auto.kvm_auto_lock:
        path: "{{ lock_path }}"
        operation: "{{ operation }}"
        resource: range 42
        timeout: "{{ timeout }}"
        poll_interval: 1
    - ansible.builtin.copy:
        content: "{{ now(utc=true).timestamp() }}"
        dest: "{{ out }}/{{ operation }}.taken_at"
    - ansible.builtin.command: sleep {{ hold }}
    - ansible.builtin.copy:
        content: "{{ now(utc=true).timestamp() }}"
        dest: "{{ out }}/{{ operation }}.releasing_at"
    - cyris.kvm_auto.kvm_auto_lock:
        path: "{{ lock_path }}"
        state: absent
        resource: range 42
'''


def _start(tmp_path, operation, hold, timeout):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-tmp'), ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    extra = ['-e', 'lock_path=%s' % (tmp_path / 'cr42.lock'), '-e', 'out=%s' % tmp_path, '-e', 'operation=%s' % operation,
             '-e', 'hold=%d' % hold, '-e', 'timeout=%d' % timeout]
    return subprocess.Popen([sys.executable, '-m', 'ansible.cli.playbook', '-i', 'localhost,', '-c', 'local',
                             str(tmp_path / 'play.yml')] + extra, env=env, cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)


def _time(tmp_path, name):
    return float((tmp_path / name).read_text())


def test_a_second_run_waits_for_the_first_and_a_third_with_timeout_0_fails(tmp_path):
    (tmp_path / 'play.yml').write_text(PLAYBOOK)
    first = _start(tmp_path, 'deploy', hold=6, timeout=0)
    deadline = time.monotonic() + 30
    while not (tmp_path / 'deploy.taken_at').exists():
        assert first.poll() is None, first.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    second = _start(tmp_path, 'reset', hold=0, timeout=30)
    third = _start(tmp_path, 'destroy', hold=0, timeout=0)
    outputs = [run.communicate(timeout=60)[0] for run in (first, second, third)]
    assert first.returncode == 0, outputs[0]
    assert second.returncode == 0, outputs[1]
    assert _time(tmp_path, 'reset.taken_at') > _time(tmp_path, 'deploy.releasing_at')
    assert outputs[1].count('range 42: waiting for the deploy run (pid %d on controller ' % first.pid) == 1
    assert third.returncode == 2
    assert 'range 42 is locked by the deploy run (pid %d on controller ' % first.pid in outputs[2]
    assert 'not waiting (timeout 0); if that run is gone, remove the file and run again' in outputs[2]
    assert not (tmp_path / 'cr42.lock').exists()
    assert sorted(os.listdir(str(tmp_path))) == sorted(['ansible-tmp', 'play.yml', 'deploy.taken_at', 'deploy.releasing_at',
                                                        'reset.taken_at', 'reset.releasing_at'])
