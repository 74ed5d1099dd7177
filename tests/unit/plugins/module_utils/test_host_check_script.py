# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A KVM host's checks in one sh command, and each check's result read back, running the script here."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_check_script import (
    MARK, host_check_commands, host_check_results, parse_check_output)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_requirements import host_checks, host_problems


def _check(host, what, argv, capacity=False):
    check = {'inventory_host': host, 'what': what, 'argv': argv}
    if capacity:
        check['capacity'] = True
    return check


def run_commands(commands):
    """Each command run here, registered as the role's command task registers it (stdout without its last newline)."""
    results = []
    for command in commands:
        done = subprocess.run(command['argv'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              check=False)
        results.append({'item': command, 'rc': done.returncode, 'stdout': done.stdout.rstrip('\r\n'),
                        'stderr': done.stderr.rstrip('\r\n')})
    return results


def test_every_check_reads_back_as_if_it_had_run_alone():
    checks = [
        _check('kvm1', 'quoting', ['printf', '%s|', "it's", 'two words', '$HOME', '`id`', ';', '']),
        _check('kvm2', 'lines', ['printf', 'a b\n\nc\n']),
        _check('kvm1', 'stderr and rc', ['sh', '-c', 'echo out; echo err >&2; exit 3']),
        _check('kvm1', 'missing', ['kvm-auto-no-such-program', '--version']),
        _check('kvm1', 'no output', ['true']),
        _check('kvm1', 'a mark in the output', ['echo', MARK + ' 0 0 :x :y']),
    ]
    commands = host_check_commands(checks)
    assert [(c['inventory_host'], len(c['checks'])) for c in commands] == [('kvm1', 5), ('kvm2', 1)]
    results = dict((r['item']['what'], r) for r in host_check_results(run_commands(commands)))
    assert [r['item'] for r in host_check_results(run_commands(commands))] == [checks[i] for i in (0, 2, 3, 4, 5, 1)]
    assert (results['quoting']['rc'], results['quoting']['stdout']) == (0, "it's|two words|$HOME|`id`|;||")
    assert results['lines']['stdout'] == 'a b\n\nc'
    assert (results['stderr and rc']['rc'], results['stderr and rc']['stdout'], results['stderr and rc']['stderr']) == (
        3, 'out', 'err')
    assert results['missing']['rc'] == 127 and 'kvm-auto-no-such-program' in results['missing']['stderr']
    assert (results['no output']['rc'], results['no output']['stdout'], results['no output']['stderr']) == (0, '', '')
    assert results['a mark in the output']['stdout'] == MARK + ' 0 0 :x :y'


@pytest.mark.parametrize('capacity_check, run, skipped', [
    (True, ['virt-install', 'disk'], []),
    (False, ['virt-install'], ['disk']),
])
def test_the_capacity_checks_are_left_out_when_asked(capacity_check, run, skipped):
    checks = [_check('kvm1', 'virt-install', ['true']), _check('kvm1', 'disk', ['true'], capacity=True)]
    command, = host_check_commands(checks, capacity_check)
    assert [c['what'] for c in command['checks']] == run and command['what'] == ', '.join(run)
    results = host_check_results(run_commands([command]))
    assert [r['item']['what'] for r in results if r.get('skipped')] == skipped


def test_a_command_that_did_not_run_gives_each_check_its_error():
    command, = host_check_commands([_check('kvm1', 'virt-install', ['true']), _check('kvm1', 'qemu-img', ['true'])])
    results = host_check_results([{'item': command, 'rc': 127, 'stdout': '', 'stderr': 'sh: not found'}])
    assert [(r['rc'], r['stderr']) for r in results] == [(None, 'sh: not found')] * 2


@pytest.mark.parametrize('stdout, found', [
    (MARK + ' 0 0 : :', {0: (0, '', '')}),
    (MARK + ' 1 2 :b3V0Cg== :ZXJy', {1: (2, 'out', 'err')}),
    (MARK + ' x 0 : :\n' + MARK + ' 0 0 :!! :\nnoise\n' + MARK + ' 0 0 : : extra', {}),
])
def test_parse_check_output(stdout, found):
    assert parse_check_output(stdout) == found


def test_a_missing_virsh_is_named_from_the_scripts_rc():
    checks = host_checks(['kvm1'], 'qemu:///system', 'default')
    for check in checks:
        check['argv'] = ['kvm-auto-no-such-program'] if check['argv'][0] == 'virsh' else ['true']
    problems = host_problems(host_check_results(run_commands(host_check_commands(checks))), 'default', 'qemu:///system')
    assert [p['message'] for p in problems] == [
        'kvm1: virsh is missing: install libvirt-clients (Debian/Ubuntu) or libvirt-client (Fedora/RHEL)']
