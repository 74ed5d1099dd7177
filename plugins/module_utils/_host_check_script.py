# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""All of a KVM host's checks (``_host_requirements.host_checks``) in one command, and their
results read back one per check.

Each check is a task of its own costs a module run on the host (about a second); one ``sh``
script per host runs them all. ``host_check_commands`` builds it from the same check list (each
argument quoted, each check's output captured apart); ``host_check_results`` gives back, per
check, what the per-check command task gave (``item``, ``rc``, ``stdout``, ``stderr``), so the
readers of the checks do not change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii

from shlex import quote

# Starts the line of one check's outcome: "MARK INDEX RC :STDOUT :STDERR", both base64 (which
# never holds ':' or a blank), so that any output of a check reads back exactly.
MARK = 'kvm-auto-check'
SCRIPT_HEAD = ('t=$(mktemp -d) || exit 125', 'trap \'rm -rf "$t"\' EXIT')


def check_script(checks):
    """The ``sh`` script that runs ``checks`` one after the other, each reported on a MARK line."""
    lines = list(SCRIPT_HEAD)
    for index, check in enumerate(checks):
        lines.append('%s </dev/null >"$t/o" 2>"$t/e"; rc=$?' % ' '.join(quote('%s' % a) for a in check['argv']))
        lines.append('printf \'%s %d %%s :%%s :%%s\\n\' "$rc" "$(base64 -w0 <"$t/o")" "$(base64 -w0 <"$t/e")"'
                     % (MARK, index))
    return '\n'.join(lines) + '\n'


def host_check_commands(checks, capacity_check=True):
    """One command per host for ``checks``: [{inventory_host, what, argv, checks, skipped, no_log}], hosts in order.

    With ``capacity_check`` false the checks only the capacity check reads (``capacity``) are
    not run: they come back skipped, as the role's ``when`` skipped them.
    """
    hosts = []
    for check in checks:
        if check['inventory_host'] not in hosts:
            hosts.append(check['inventory_host'])
    commands = []
    for host in hosts:
        own = [c for c in checks if c['inventory_host'] == host]
        run = [c for c in own if capacity_check or not c.get('capacity')]
        commands.append({
            'inventory_host': host,
            'what': ', '.join(c['what'] for c in run),
            'argv': ['sh', '-c', check_script(run), 'kvm-auto-host-checks'],
            'checks': run,
            'skipped': [c for c in own if c not in run],
            # One check's output kept out of the log (a base VM's XML) keeps the whole command's out.
            'no_log': any(c.get('no_log') for c in run),
        })
    return commands


def _decode(field):
    try:
        return base64.b64decode(field[1:], validate=True).decode('utf-8', 'replace').rstrip('\r\n')
    except (binascii.Error, ValueError):
        return None


def parse_check_output(stdout):
    """INDEX -> (rc, stdout, stderr) of each MARK line of a script's output."""
    found = {}
    for line in (stdout or '').splitlines():
        fields = line.split(' ')
        if len(fields) != 5 or fields[0] != MARK or not fields[1].isdigit() or not fields[2].isdigit():
            continue
        out, err = _decode(fields[3]), _decode(fields[4])
        if out is not None and err is not None:
            found[int(fields[1])] = (int(fields[2]), out, err)
    return found


def host_check_results(command_results):
    """One result per check, as the command module gives it (``item``, ``rc``, ``stdout``, ``stderr``),
    from the results of the commands of ``host_check_commands`` (each with its command as ``item``).

    A check the script did not report on (its host's command failed: no ``sh``, no ``mktemp``)
    has ``rc`` None and the command's error as ``stderr``.
    """
    results = []
    for command in command_results or ():
        item = command.get('item') or {}
        outcomes = parse_check_output(command.get('stdout'))
        error = (command.get('stderr') or command.get('msg') or '').strip() or 'the checks did not run'
        for index, check in enumerate(item.get('checks') or ()):
            if index in outcomes:
                rc, out, err = outcomes[index]
                results.append({'item': check, 'rc': rc, 'stdout': out, 'stderr': err, 'changed': False})
            else:
                results.append({'item': check, 'rc': None, 'stdout': '', 'stderr': error, 'changed': False})
        for check in item.get('skipped') or ():
            results.append({'item': check, 'skipped': True, 'changed': False})
    return results
