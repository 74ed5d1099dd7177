# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The command runner: real commands through a real AnsibleModule, secrets masked everywhere."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cyris.kvm_auto.plugins.module_utils._runner import MASK, CommandRunner, mask_argv

SECRET = 's3cret-Pa55'


@pytest.mark.parametrize('argv, secrets, shown', [
    (['virt-builder', 'debian-12', '-o', '/tmp/x.qcow2'], [], 'virt-builder debian-12 -o /tmp/x.qcow2'),
    (['echo', 'two words'], [], "echo 'two words'"),
    (['echo', "it's"], [], "echo 'it'\"'\"'s'"),
    (['echo', ''], [], "echo ''"),
    (['tool', '--password', 'alice:file:/tmp/pw'], [], 'tool --password alice:file:/tmp/pw'),
    (['tool', 'x' + SECRET + 'y'], [SECRET], 'tool x' + MASK + 'y'),
    (['tool', SECRET, SECRET], [SECRET, None, ''], 'tool %s %s' % (MASK, MASK)),
    (['tool', 5], [], 'tool 5'),
])
def test_mask_argv(argv, secrets, shown):
    assert mask_argv(argv, secrets) == shown


@pytest.fixture(autouse=True)
def module_args():
    # exit_json/fail_json need the module arguments' context while the module lives.
    with patch_module_args({}):
        yield


def _runner(secrets=()):
    module = AnsibleModule(argument_spec={})
    return CommandRunner(module, 'guest web', secrets=secrets, environ={'KVM_AUTO_TEST': 'from-runner'})


def test_run_records_the_masked_command_and_passes_environment():
    runner = _runner(secrets=[SECRET])
    rc, out, dummy = runner.run(['sh', '-c', 'printf "%s" "$KVM_AUTO_TEST"', SECRET])
    assert (rc, out) == (0, 'from-runner')
    assert runner.commands == ["sh -c 'printf \"%%s\" \"$KVM_AUTO_TEST\"' %s" % MASK]


PRINT_LOCALE = ['sh', '-c', 'printf "%s %s" "$LC_ALL" "$LANG"']


@pytest.mark.parametrize('runner_environ, run_environ, shown', [
    ({}, None, 'C C'),
    ({'LC_ALL': 'C.UTF-8'}, None, 'C.UTF-8 C'),
    ({'LC_ALL': 'C.UTF-8'}, {'LANG': 'en_US.UTF-8', 'LC_ALL': 'POSIX'}, 'POSIX en_US.UTF-8'),
])
def test_run_pins_the_c_locale_unless_the_caller_sets_one(monkeypatch, runner_environ, run_environ, shown):
    monkeypatch.setenv('LC_ALL', 'de_DE.UTF-8')
    monkeypatch.setenv('LANG', 'de_DE.UTF-8')
    runner = CommandRunner(AnsibleModule(argument_spec={}), 'guest web', environ=runner_environ)
    rc, out, dummy = runner.run(PRINT_LOCALE, environ=run_environ)
    assert (rc, out) == (0, shown)


def test_run_passes_data_on_stdin():
    rc, out, dummy = _runner().run(['cat'], data=b'line from stdin')
    assert (rc, out) == (0, 'line from stdin')


def test_run_does_not_expand_variables_or_globs():
    rc, out, dummy = _runner().run(['echo', '$HOME', '*'])
    assert out.strip() == '$HOME *'


def test_failed_command_fails_once_with_subject_field_and_masked_output(capsys):
    runner = _runner(secrets=[SECRET])
    with pytest.raises(SystemExit):
        runner.run(['sh', '-c', 'echo "out %s"; echo "err %s" >&2; exit 3' % (SECRET, SECRET)], field='tasks[0]')
    result = json.loads(capsys.readouterr().out)
    assert result['failed'] is True
    assert result['rc'] == 3
    assert result['msg'].startswith('guest web (tasks[0]): command failed with rc=3: sh -c ')
    assert SECRET not in json.dumps(result)
    assert result['stdout'] == 'out %s\n' % MASK
    assert result['stderr'] == 'err %s\n' % MASK
    assert result['commands'] == [result['cmd']]


def test_failed_command_without_check_rc_returns():
    rc, dummy, dummy = _runner().run(['false'], check_rc=False)
    assert rc == 1


def test_bin_path_names_what_is_missing(capsys):
    runner = _runner()
    assert runner.bin_path('sh').endswith('/sh')
    with pytest.raises(SystemExit):
        runner.bin_path('no-such-tool-kvm-auto', hint='the controller')
    result = json.loads(capsys.readouterr().out)
    assert result['msg'] == 'guest web: the command no-such-tool-kvm-auto was not found on the controller'
