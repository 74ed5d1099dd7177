# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""CyRIS guest tasks -> virt-builder customise operations.

``normalize_tasks`` validates the CyRIS task list with the rules of
_cyris_schema (the range validation applies the same ones) and flattens it into
operations (one per parameter map), each carrying the field path it came from
(``tasks[2].modify_account[0]``) so every error can name it.  ``plan_build``
turns the operations into the lines of a ``--commands-from-file`` file plus the
files that must be staged beside it (passwords, shell step scripts, firewall
rules, the programs and units of emulate_malware: _malware), so the whole
customisation runs in one appliance boot.  Shell steps that follow one another
(useradd, renames, programs, checks) share one ``run`` script, because each
command started in the appliance costs 1.5-2 s under TCG.

Passwords: virt-customize collects every ``--password``/``--root-password`` and
applies them after all other operations, keyed by account name, and refuses two
for one name (customize_run.ml, "Store the passwords and set them all at the
end").  So a password given to an account that a later task renames must be set
on the new name, and only the last password of an account may be passed; both
follow from tracking each account through the tasks.  virt-customize also skips
names missing from /etc/shadow silently, so the plan ends with a check that
every account that gets a password exists.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shlex

from ansible_collections.cyris.kvm_auto.plugins.module_utils._cyris_schema import (
    AFTER_CLONE_IN_IMAGE, check_password as _password_problem, check_task_params, follow_accounts, is_after_clone,
    malware_errors, params_list_error, pinned_packages, task_type_of, version_pin_error)
# Re-exported: _image_key masks with it.
from ansible_collections.cyris.kvm_auto.plugins.module_utils._cyris_schema import MASK  # pylint: disable=unused-import
from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_identity import (
    FORWARDING_FIELD, SSH_FIELD, forwarding_check_command, image_install, ssh_check_command)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._malware import image_install as malware_install

HOSTNAME_LABEL_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')
IPTABLES_RESTORE = '/usr/sbin/iptables-restore'
FIREWALL_RULES_PATH = '/etc/iptables/rules.v4'
FIREWALL_UNIT = 'kvm-auto-iptables.service'

FIREWALL_UNIT_TEXT = u"""[Unit]
Description=CyRIS firewall rules baked in by cyris.kvm_auto
DefaultDependencies=no
Before=network-pre.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=%s %s

[Install]
WantedBy=multi-user.target
""" % (IPTABLES_RESTORE, FIREWALL_RULES_PATH)

_FILTER_HEAD = u'*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n'


class ImageInputError(ValueError):
    """An input that cannot be used; ``field`` names it (never its secret value)."""

    def __init__(self, field, message):
        super(ImageInputError, self).__init__('%s: %s' % (field, message))
        self.field = field


def check_password(field, secret):
    """Raise unless ``secret`` can be passed in a password file; the message never holds it."""
    problem = _password_problem('' if secret is None else secret)
    if problem:
        raise ImageInputError(field, problem)


def check_hostname(hostname):
    """Raise unless ``hostname`` is a valid host or dotted domain name."""
    if hostname is None:
        return
    labels = hostname.split('.')
    if len(hostname) > 253 or not all(HOSTNAME_LABEL_RE.match(label) for label in labels):
        raise ImageInputError('hostname', '%r is not a valid host name (labels of letters, digits and inner dashes)' % (hostname,))


def normalize_tasks(tasks):
    """Validate CyRIS ``tasks`` with the rules of _cyris_schema and flatten them into operations.

    Each operation is a dict with ``kind`` (the task type), ``field`` (its path,
    e.g. ``tasks[0].add_account[1]``) and its normalised parameters.  Raises
    ImageInputError for the first problem.
    """
    ops = []
    for index, item in enumerate(tasks or []):
        field = 'tasks[%d]' % index
        kind, problem = task_type_of(item, build=True)
        if problem:
            raise ImageInputError('%s.%s' % (field, kind) if kind else field, problem)
        field = '%s.%s' % (field, kind)
        problem = params_list_error(item[kind])
        if problem:
            raise ImageInputError(field, problem)
        for number, params in enumerate(item[kind]):
            place = '%s[%d]' % (field, number)
            clean, errors = check_task_params(kind, params)
            if errors:
                key, problem = errors[0]
                raise ImageInputError('%s.%s' % (place, key) if key else place, problem)
            ops.append(_OPERATIONS[kind](place, clean))
    clashes = malware_errors([(op['field'], op) for op in ops if op['kind'] == 'emulate_malware'])
    if clashes:
        raise ImageInputError(*clashes[0])
    return ops


def _add_account(field, params):
    return {'kind': 'add_account', 'field': field, 'account': params['account'], 'passwd': params['passwd'],
            'full_name': params.get('full_name')}


def _modify_account(field, params):
    return {'kind': 'modify_account', 'field': field, 'account': params['account'],
            'new_account': params.get('new_account'), 'new_passwd': params.get('new_passwd')}


def _install_package(field, params):
    return {'kind': 'install_package', 'field': field, 'packages': params['name'].split(),
            'version': params.get('version'), 'package_manager': params.get('package_manager')}


def _controller_file(field, path, test, missing):
    # A module's working directory is not the playbook's, so relative paths would mislead.
    if not os.path.isabs(path):
        raise ImageInputError(field, '%r must be an absolute path on the controller' % (path,))
    if not test(path):
        raise ImageInputError(field, '%r %s on the controller' % (path, missing))
    return path


def _copy_content(field, params):
    src = params['src'].rstrip('/') or '/'
    _controller_file(field + '.src', src, os.path.exists, 'does not exist')
    return {'kind': 'copy_content', 'field': field, 'src': src, 'dst': params['dst']}


def _execute_program(field, params):
    if is_after_clone('execute_program', params):
        raise ImageInputError(field + '.execute_time', AFTER_CLONE_IN_IMAGE)
    return {'kind': 'execute_program', 'field': field, 'program': params['program'],
            'interpreter': params['interpreter'], 'args': shlex.split(params.get('args', ''))}


def _firewall_rules(field, params):
    rule = _controller_file(field + '.rule', params['rule'], os.path.isfile, 'is not a file')
    return {'kind': 'firewall_rules', 'field': field, 'rule': rule}


def _emulate_malware(field, params):
    number = dict((key, int(params[key]) if key in params else None) for key in ('cpu_utilization', 'port'))
    return dict(number, kind='emulate_malware', field=field, name=params['name'], mode=params['mode'])


_OPERATIONS = {
    'add_account': _add_account,
    'modify_account': _modify_account,
    'install_package': _install_package,
    'copy_content': _copy_content,
    'execute_program': _execute_program,
    'firewall_rules': _firewall_rules,
    'emulate_malware': _emulate_malware,
}


def secret_fields(ops, root_password=None):
    """Every (field, secret) pair of the inputs, in input order."""
    pairs = []
    if root_password is not None:
        pairs.append(('root_password', root_password))
    for op in ops:
        for name in ('passwd', 'new_passwd'):
            if op.get(name) is not None:
                pairs.append(('%s.%s' % (op['field'], name), op[name]))
    return pairs


def final_passwords(ops, root_password=None):
    """The password each account ends up with: {final name: (secret, field)}.

    Accounts are followed through renames (_cyris_schema.follow_accounts); a
    later password replaces an earlier one.  Raises ImageInputError for the
    first add or rename onto a name already taken, a change of a name renamed
    away, or root_password and a task both setting the root password.
    """
    followed = follow_accounts(ops, root_password)
    if followed['errors']:
        raise ImageInputError(*followed['errors'][0])
    return followed['passwords']


def _quote_all(words):
    return ' '.join(shlex.quote(w) for w in words)


# Shell functions at the top of every step script.  They read /etc/passwd and /etc/group with
# shell builtins only: under TCG each process started in the appliance costs a good fraction of
# a second, and these lookups would otherwise be most of the processes of a build.
STEP_FUNCTIONS = u"""\
kvm_auto_account() {  # kvm_auto_account NAME: true when NAME is in /etc/passwd; sets kvm_auto_home
    while IFS=: read -r kvm_auto_name kvm_auto_pw kvm_auto_uid kvm_auto_gid kvm_auto_gecos kvm_auto_home kvm_auto_shell; do
        [ "$kvm_auto_name" = "$1" ] && return 0
    done < /etc/passwd
    kvm_auto_home=
    return 1
}
kvm_auto_group() {  # kvm_auto_group NAME: true when NAME is in /etc/group
    while IFS=: read -r kvm_auto_name kvm_auto_rest; do
        [ "$kvm_auto_name" = "$1" ] && return 0
    done < /etc/group
    return 1
}
kvm_auto_rename() {  # kvm_auto_rename OLD NEW: the account, its same-named group, its /home/OLD (as CyRIS did)
    kvm_auto_account "$1" || { echo "account $1 does not exist, so it cannot be renamed" >&2; return 1; }
    if [ "$kvm_auto_home" = "/home/$1" ]; then
        usermod -l "$2" -d "/home/$2" -m "$1" || return 1
    else
        usermod -l "$2" "$1" || return 1
    fi
    if kvm_auto_group "$1" && ! kvm_auto_group "$2"; then
        groupmod -n "$2" "$1" || return 1
    fi
}
"""


def _rename_script(old, new):
    """Rename an account, its same-named group and its /home directory (as CyRIS did)."""
    return _quote_all(['kvm_auto_rename', old, new])


def _versioned(packages, version, manager, osinfo, field):
    if version is not None:
        problem = version_pin_error(manager, osinfo)
        if problem:
            raise ImageInputError(field + '.package_manager', problem)
    return pinned_packages(packages, version, manager, osinfo)


def firewall_ruleset(rule_texts, fields):
    """One iptables-restore file from CyRIS rule files.

    CyRIS rule files hold ``-A CHAIN ...`` lines for the filter table; they are
    wrapped in ``*filter`` ... ``COMMIT`` like CyRIS's iptables template, several
    files in task order.  A file that already names its tables (``*filter``) is a
    complete iptables-save file and is used as it is, but only on its own.
    """
    complete = [f for f, text in zip(fields, rule_texts) if any(line.startswith('*') for line in text.splitlines())]
    if complete:
        if len(rule_texts) > 1:
            raise ImageInputError(complete[0], 'a complete iptables-save file (with *table lines) cannot be combined '
                                               'with other firewall_rules tasks')
        text = rule_texts[0]
        return text if text.endswith('\n') else text + '\n'
    body = u''.join(t if t.endswith('\n') or not t else t + '\n' for t in rule_texts)
    return _FILTER_HEAD + body + u'COMMIT\n'


def _read_rules(op):
    try:
        with open(op['rule'], 'rb') as handle:
            return handle.read().decode('utf-8')
    except (IOError, OSError) as exc:
        raise ImageInputError(op['field'] + '.rule', 'cannot read %r: %s' % (op['rule'], exc))
    except UnicodeDecodeError:
        raise ImageInputError(op['field'] + '.rule', '%r is not a UTF-8 text file' % (op['rule'],))


def _line(op_name, argument):
    # The commands file has one operation per line: a value with a line break would
    # start a new operation.  Validation rejects those; this is the last guard.
    if '\n' in argument or '\r' in argument or argument.endswith('\\'):
        raise ValueError('refusing a multi-line customise argument for %s' % op_name)
    return '%s %s' % (op_name, argument)


STEP_MARK = 'kvm-auto-step:'


class _Plan:
    """Accumulates operations; consecutive shell steps share one ``run`` script.

    Each command run in the appliance costs 1.5-2 s under TCG, so shell steps that
    follow one another go into one script, which marks each step on stderr so a
    failure can still be traced to its task.
    """

    def __init__(self, staging_dir):
        self.staging_dir = staging_dir
        self.lines = []
        self.files = []
        self.fields = []
        self.scripts = []
        self._steps = []

    def op(self, name, argument, text=None, field=None):
        self.flush()
        self.lines.append(_line(name, argument))
        if field:
            self.fields.append((text, field))

    def step(self, command, field):
        self._steps.append((command, field))

    def flush(self):
        if not self._steps:
            return
        path = os.path.join(self.staging_dir, 'steps-%d.sh' % len(self.scripts))
        body = ['#!/bin/sh', '# Written by cyris.kvm_auto.kvm_auto_image: one shell step per task.', STEP_FUNCTIONS.rstrip('\n')]
        for command, field in self._steps:
            _line('run', command)  # the same single-line guard as the commands file
            body += ['echo %s >&2' % shlex.quote('%s %s' % (STEP_MARK, field)), '%s || exit 1' % command]
        self.files.append((path, '\n'.join(body) + '\n', 0o600))
        self.scripts.append((path, [field for dummy, field in self._steps]))
        self.lines.append(_line('run', path))
        self._steps = []


def plan_build(ops, staging_dir, hostname=None, root_password=None, osinfo=None, require_forwarding=False,
               require_ssh=False):
    """The customisation of one image build as data.

    Returns a dict with:
    ``lines``: the ``--commands-from-file`` lines, in order;
    ``files``: [(path, text, mode)] to write into ``staging_dir`` first
    (password files are 0600 and hold the only copy of each password);
    ``fields``: [(text, field)] pairs to map a failed operation back to its task;
    ``scripts``: [(path, [field, ...])] the shell scripts and the task of each step;
    ``network``: whether the appliance needs the network (package installs);
    ``password_accounts``: the sorted accounts that get a password.

    Every image gets the guest identity service (_guest_identity); with ``require_forwarding``
    a last step fails the build when the image has no iptables, with ``require_ssh`` one when it
    has no SSH server.
    """
    plan = _Plan(staging_dir)
    network = False
    if hostname:
        plan.op('hostname', hostname)
    identity_files, identity_operations = image_install(staging_dir)
    plan.files.extend(identity_files)
    for name, argument in identity_operations:
        plan.op(name, argument)
    firewall = []
    for op in ops:
        kind = op['kind']
        if kind == 'add_account':
            command = ['useradd', '-m', '-s', '/bin/bash']
            if op['full_name']:
                command += ['-c', op['full_name']]
            plan.step(_quote_all(command + [op['account']]), op['field'])
        elif kind == 'modify_account':
            if op['new_account'] is not None:
                plan.step(_rename_script(op['account'], op['new_account']), op['field'])
        elif kind == 'install_package':
            network = True
            packages = _versioned(op['packages'], op['version'], op['package_manager'], osinfo, op['field'])
            plan.op('install', ','.join(packages), ' '.join(shlex.quote(p) for p in packages), op['field'])
        elif kind == 'copy_content':
            plan.op('mkdir', op['dst'])
            plan.op('copy-in', '%s:%s' % (op['src'], op['dst']), op['src'], op['field'])
        elif kind == 'execute_program':
            plan.step(_quote_all([op['interpreter'], op['program']] + op['args']), op['field'])
        elif kind == 'firewall_rules':
            firewall.append(op)
    # Before the firewall's check step, so every step after the tasks shares one script.
    files, operations, malware_steps = malware_install([op for op in ops if op['kind'] == 'emulate_malware'],
                                                       staging_dir)
    plan.files.extend(files)
    for name, argument in operations:
        plan.op(name, argument)
    if firewall:
        rules_file = os.path.join(staging_dir, 'iptables.rules')
        unit_file = os.path.join(staging_dir, FIREWALL_UNIT)
        plan.files.append((rules_file, firewall_ruleset([_read_rules(op) for op in firewall],
                                                        [op['field'] for op in firewall]), 0o644))
        plan.files.append((unit_file, FIREWALL_UNIT_TEXT, 0o644))
        unit_path = '/etc/systemd/system/' + FIREWALL_UNIT
        plan.op('mkdir', os.path.dirname(FIREWALL_RULES_PATH))
        plan.op('upload', '%s:%s' % (rules_file, FIREWALL_RULES_PATH))
        plan.op('chmod', '0644:' + FIREWALL_RULES_PATH)
        plan.op('upload', '%s:%s' % (unit_file, unit_path))
        plan.op('chmod', '0644:' + unit_path)
        plan.op('link', '%s:/etc/systemd/system/multi-user.target.wants/%s' % (unit_path, FIREWALL_UNIT))
        plan.step('test -x {path} || {{ echo {msg} >&2; exit 1; }}'.format(
            path=IPTABLES_RESTORE, msg=shlex.quote('firewall_rules: %s is missing in the guest; install iptables first '
                                                   '(install_package name: iptables)' % IPTABLES_RESTORE)),
                  firewall[0]['field'])
    for command, field in malware_steps:
        plan.step(command, field)

    if require_forwarding:
        plan.step(forwarding_check_command(), FORWARDING_FIELD)
    if require_ssh:
        plan.step(ssh_check_command(), SSH_FIELD)
    passwords = final_passwords(ops, root_password)
    if passwords:
        # Passwords are applied after every operation, so the accounts must exist by then:
        # virt-customize would skip a missing one without a word.
        for account in sorted(passwords):
            plan.step('kvm_auto_account {name} || {{ echo {msg} >&2; exit 1; }}'.format(
                name=shlex.quote(account),
                msg=shlex.quote('account %s does not exist, so its password cannot be set' % account)),
                passwords[account][1])
    plan.flush()
    for number, account in enumerate(sorted(passwords)):
        secret, dummy = passwords[account]
        path = os.path.join(staging_dir, 'password-%d' % number)
        plan.files.append((path, secret + '\n', 0o600))
        if account == 'root':
            plan.op('root-password', 'file:' + path)
        else:
            plan.op('password', '%s:file:%s' % (account, path))
    if 'root' not in passwords:
        # Without this virt-builder sets a random root password and prints it.
        plan.op('root-password', 'disabled')
    return {'lines': plan.lines, 'files': plan.files, 'fields': plan.fields, 'scripts': plan.scripts,
            'network': network, 'password_accounts': sorted(passwords)}


def failed_field(plan, output):
    """The task field that made virt-builder fail, from its error ``output``, or None.

    A failed script is named in virt-builder's error line; its own step markers in
    the log it prints then tell which step ran last.  Other operations are found by
    their text (whitespace compared loosely: virt-builder may wrap long messages).
    """
    output = output or ''
    for path, fields in plan.get('scripts', []):
        if '%s: command exited with an error' % path in output:
            marked = [line.split(STEP_MARK, 1)[1].strip() for line in output.splitlines() if STEP_MARK in line]
            own = [field for field in marked if field in fields]
            return own[-1] if own else fields[0]
    flat = ' '.join(output.split())
    for text, field in reversed(plan['fields']):
        if text and ' '.join(text.split()) in flat:
            return field
    return None
