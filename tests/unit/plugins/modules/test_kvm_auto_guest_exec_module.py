# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kvm_auto_guest_exec module, run as Ansible runs it, against libvirt's test driver (no agent there)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _guest_exec
from ansible_collections.cyris.kvm_auto.plugins.modules import kvm_auto_guest_exec

# The directory holding ansible_collections/, for the module's own imports.
COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(_guest_exec.__file__), *(['..'] * 5)))
# libvirt's test driver: one running domain named test, whose agent commands are not supported.
TEST_URI = 'test:///default'
PROGRAM = {'label': 'guest_settings[0] (id=srv).tasks[0].execute_program', 'argv': ['/bin/true']}


def _run_module(tmp_path, **args):
    args_file = tmp_path / 'args.json'
    args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': dict({'uri': TEST_URI}, **args)}))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_ROOT)
    done = subprocess.run([sys.executable, kvm_auto_guest_exec.__file__, str(args_file)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    return json.loads(done.stdout)


def test_no_programs_are_no_change(tmp_path):
    result = _run_module(tmp_path, name='absent', programs=[])
    assert not result.get('failed') and not result['changed']
    assert result['results'] == [] and result['digest'] == _guest_exec.programs_digest([])


@pytest.mark.parametrize('args, message', [
    ({'name': 'absent', 'programs': [PROGRAM]},
     'guest absent: there is no libvirt domain of this name at test:///default'),
    ({'name': 'test', 'programs': [PROGRAM], 'agent_timeout': 0},
     'guest test: qemu-guest-agent did not answer guest-ping within agent_timeout=0 s: guest-ping: '
     'this function is not supported by the connection driver: virDomainQemuAgentCommand'),
    ({'name': 'test', 'programs': [dict(PROGRAM, argv=[])], 'marker': 'done'},
     'guest test: programs[0] (guest_settings[0] (id=srv).tasks[0].execute_program): argv is empty; '
     'marker done is not an absolute path'),
])
def test_failures_name_the_guest(tmp_path, args, message):
    result = _run_module(tmp_path, **args)
    assert result['failed'] and result['msg'] == message
    assert result['results'] == []


@pytest.mark.parametrize('name', ['absent'])
def test_check_mode_before_the_guest_exists_says_the_programs_would_run(tmp_path, name):
    result = _run_module(tmp_path, name=name, programs=[PROGRAM], _ansible_check_mode=True)
    assert not result.get('failed'), result
    assert result['changed'] and result['results'] == []
