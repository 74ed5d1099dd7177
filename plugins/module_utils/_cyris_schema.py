# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The CyRIS guest task format: the one definition that the range validation and kvm_auto_image share.

Every rule about a task lives here once: the task types and their keys, the
checks of each value, the structure of a task list item, the version-pin rule
and the tracking of accounts through the tasks.  Checks return an error text
(or None) instead of raising, so the range validation can collect every problem
of a description at once while the module raises the first one.  Texts never
hold a password.

Account names: what ``useradd`` accepts by default on Debian 12 and RHEL 9,
restricted to names that are never shell or option text: a lower-case letter or
``_`` first, then up to 31 of lower-case letters, digits, ``_``, ``.`` and
``-`` (``first.last`` is fine).  Refused: upper case (Debian's adduser and many
tools refuse it), a leading digit or ``-``, ``$`` (useradd allows it last for
Samba machine accounts; it is shell text), spaces and anything else.

emulate_malware names a process: what ``ps``, ``top`` and ``pgrep -x`` show (the kernel's comm,
at most 15 characters), and also part of a file and a systemd unit name in the guest, so only
letters, digits, ``_``, ``.`` and ``-``, not ``.`` or ``-`` first.  Each mode takes its own key
(``cpu_utilization`` for dummy_calculation, ``port`` for port_listening) and refuses the other's,
so a task never says something that is silently not done.

emulate_attack and emulate_traffic_capture_file act on running clones: the range runs them after
boot, with the after_clone programs (see _range_emulate); kvm_auto_image refuses them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import posixpath
import re
import shlex
from collections import OrderedDict
from collections.abc import Mapping

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import TEXT_TYPES, kind_of, show
from ansible_collections.cyris.kvm_auto.plugins.module_utils._runner import MASK  # pylint: disable=unused-import
from ansible_collections.cyris.kvm_auto.plugins.module_utils._virt_builder import package_manager_of

# The architecture kvm_auto_image builds for unless told otherwise; the range role never tells it.
DEFAULT_ARCH = 'x86_64'

PACKAGE_MANAGERS = ('apt', 'apt-get', 'yum', 'dnf', 'zypper')
EXECUTE_TIMES = ('before_clone', 'after_clone')
SECRET_KEYS = ('passwd', 'new_passwd')
# The account that every template has: it can get a password or a new name, never be added.
TEMPLATE_ROOT = 'root'

ACCOUNT_RE = re.compile(r'^[a-z_][a-z0-9_.-]{0,31}$')
ACCOUNT_RULE = 'a lower-case letter or _, then up to 31 of a-z 0-9 _ . -'
PACKAGE_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9+._:~-]{0,127}$')
VERSION_RE = PACKAGE_RE
INTERPRETER_RE = re.compile(r'^[A-Za-z0-9_./][A-Za-z0-9_./+-]*$')
_LINE_BREAKS = ('\n', '\r', '\x00')
PROCESS_NAME_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$')
PROCESS_NAME_RULE = 'up to 15 of A-Z a-z 0-9 _ . -, not . or - first'
# emulate_malware mode -> the key it needs; each mode refuses the key of the other.
MALWARE_MODES = OrderedDict([('dummy_calculation', 'cpu_utilization'), ('port_listening', 'port')])
ATTACK_TYPES = ('ssh_attack',)
# Each attempt is one SSH connection: a thousand take minutes and fill any authentication log.
MAX_ATTEMPTS = 1000
CAPTURE_FORMATS = ('pcap',)
# CyRIS's levels (its noise_low, noise_medium and noise_high.pcap); _traffic_capture sizes each.
NOISE_LEVELS = ('low', 'medium', 'high')


def _breaks_line(text):
    return any(c in text for c in _LINE_BREAKS)


# ---- checks of single values: each takes the text of a value and returns an error text or None

def check_account(text):
    if not ACCOUNT_RE.match(text):
        return '%s is not a valid account name (%s)' % (show(text), ACCOUNT_RULE)
    return None


def check_password(text):
    """The text never holds the password."""
    if text == '':
        return 'the password must not be empty'
    if '\n' in text or '\r' in text:
        return 'the password must be a single line (virt-customize reads the first line of its file)'
    if '\x00' in text:
        return 'the password must not hold a NUL character'
    return None


def check_full_name(text):
    if ':' in text or ',' in text or _breaks_line(text):
        # /etc/passwd separates its fields with ":", the GECOS field its parts with ",".
        return '%s must not hold : , or a line break (GECOS field)' % show(text)
    return None


def check_package_names(text):
    names = text.split()
    if not names:
        return '%s holds no package name; give at least one' % show(text)
    if not all(PACKAGE_RE.match(name) for name in names):
        return '%s is not a list of package names separated by spaces' % show(text)
    return None


def check_version(text):
    if not VERSION_RE.match(text):
        return '%s is not a package version' % show(text)
    return None


def _choice(choices):
    def check(text):
        if text not in choices:
            return '%s is not one of %s' % (show(text), ', '.join(choices))
        return None
    return check


def check_execute_time(text):
    return _choice(EXECUTE_TIMES)(text)


# A program that runs on each clone after its first boot (the role runs it through the guest
# agent, kvm_auto_guest_exec); every other task is baked into the image.
AFTER_CLONE = 'after_clone'
AFTER_CLONE_IN_IMAGE = ("'after_clone' programs run on each clone after its first boot, not in an image: give "
                        "them to the range (role cyris.kvm_auto.kvm_auto_range), which runs them through the guest agent")


def is_after_clone(ttype, params):
    """Whether one task's parameters are an execute_program to run after cloning."""
    return ttype == 'execute_program' and isinstance(params, Mapping) and params.get('execute_time') == AFTER_CLONE


def program_argv(params):
    """The argv of an execute_program task: its interpreter, its program, its args split as sh would."""
    return [params['interpreter'], params['program']] + shlex.split(params.get('args') or '')


def is_runtime_item(item):
    """Whether an item of a task list is one of the RUNTIME_TASKS (and nothing else)."""
    return isinstance(item, Mapping) and len(item) == 1 and list(item)[0] in RUNTIME_TASKS


def build_time_tasks(tasks):
    """A task list without its after_clone programs and runtime tasks (what goes into the image);
    other items unchanged."""
    kept = []
    for item in tasks:
        if is_runtime_item(item):
            continue
        if isinstance(item, Mapping) and isinstance(item.get('execute_program'), list):
            params = [p for p in item['execute_program'] if not is_after_clone('execute_program', p)]
            if not params:
                continue
            item = dict(item, execute_program=params)
        kept.append(item)
    return kept


def _no_colon(text):
    if ':' in text:
        # virt-customize separates the source and destination of --copy-in and --upload with ":".
        return '%s must not contain ":"' % show(text)
    return None


def check_guest_directory(text):
    if not text.startswith('/') or _breaks_line(text):
        return '%s is not an absolute path in the guest' % show(text)
    return _no_colon(text)


def check_controller_path(text):
    """Syntax only: whether the path is absolute or exists is for each side to check."""
    if text == '' or _breaks_line(text):
        return '%s is not a path on the controller' % show(text)
    return _no_colon(text)


def check_program(text):
    if text == '' or _breaks_line(text):
        return '%s is not a program path in the guest (one line)' % show(text)
    return None


def check_interpreter(text):
    if not INTERPRETER_RE.match(text):
        return '%s is not an interpreter name such as bash, python3 or /usr/bin/perl' % show(text)
    return None


def check_args(text):
    if _breaks_line(text):
        return '%s must be a single line' % show(text)
    try:
        shlex.split(text)
    except ValueError as exc:
        return '%s cannot be split into words: %s' % (show(text), exc)
    return None


def check_process_name(text):
    if not PROCESS_NAME_RE.match(text):
        return '%s is not a process name (%s)' % (show(text), PROCESS_NAME_RULE)
    return None


def _whole_number(what, lowest, highest):
    def check(text):
        if not re.match(r'^[0-9]{1,6}$', text) or not lowest <= int(text) <= highest:
            return '%s is not %s: a whole number from %d to %d' % (show(text), what, lowest, highest)
        return None
    return check


check_cpu_utilization = _whole_number('a CPU share in percent', 1, 100)
check_port = _whole_number('a TCP port', 1, 65535)
check_attempt_number = _whole_number('a number of login attempts', 1, MAX_ATTEMPTS)


def check_attack_time(text):
    """CyRIS's date of the attack: 2017-11-18 (YAML reads it as a date) or 20171118."""
    for layout in ('%Y-%m-%d', '%Y%m%d'):
        try:
            datetime.datetime.strptime(text, layout)
            return None
        except ValueError:
            pass
    return '%s is not a date such as 2017-11-18' % show(text)


def check_ipv4(text):
    try:
        if '%s' % ipaddress.IPv4Address(text) == text:
            return None
    except ValueError:
        pass
    return '%s is not an IPv4 address such as 198.51.100.7' % show(text)


def check_guest_file(text):
    if not text.startswith('/') or text.endswith('/') or _breaks_line(text) or posixpath.normpath(text) != text:
        return '%s is not the absolute path of a file in the guest, such as /home/trainee/traffic.pcap' % show(text)
    return None


# ---- the task types

class Key:
    """One parameter of a task type."""

    def __init__(self, check=None, required=False, secret=False, kind='str', choices=None, default=None):
        self.check = check or _choice(choices)
        self.required = required
        self.secret = secret
        self.kind = kind  # the module's option type: 'path' for files on the controller
        self.choices = choices
        self.default = default

    def option(self):
        """The AnsibleModule option spec of this key."""
        spec = dict(type=self.kind)
        if self.required:
            spec['required'] = True
        if self.secret:
            spec['no_log'] = True
        if self.choices:
            spec['choices'] = list(self.choices)
        if self.default is not None:
            spec['default'] = self.default
        return spec


# task type -> its keys, in the order they are checked; the types kvm_auto_image bakes into images.
TASK_TYPES = OrderedDict([
    ('add_account', OrderedDict([
        ('account', Key(check_account, required=True)),
        ('passwd', Key(check_password, required=True, secret=True)),
        ('full_name', Key(check_full_name)),
    ])),
    ('modify_account', OrderedDict([
        ('account', Key(check_account, required=True)),
        ('new_account', Key(check_account)),
        ('new_passwd', Key(check_password, secret=True)),
    ])),
    ('install_package', OrderedDict([
        ('name', Key(check_package_names, required=True)),
        ('package_manager', Key(choices=PACKAGE_MANAGERS)),
        ('version', Key(check_version)),
    ])),
    ('copy_content', OrderedDict([
        ('src', Key(check_controller_path, required=True, kind='path')),
        ('dst', Key(check_guest_directory, required=True)),
    ])),
    ('execute_program', OrderedDict([
        ('program', Key(check_program, required=True)),
        ('interpreter', Key(check_interpreter, required=True)),
        ('args', Key(check_args)),
        ('execute_time', Key(check_execute_time, choices=EXECUTE_TIMES, default='before_clone')),
    ])),
    ('firewall_rules', OrderedDict([
        ('rule', Key(check_controller_path, required=True, kind='path')),
    ])),
    ('emulate_malware', OrderedDict([
        ('name', Key(check_process_name, required=True)),
        ('mode', Key(required=True, choices=tuple(MALWARE_MODES))),
        ('cpu_utilization', Key(check_cpu_utilization, kind='int')),
        ('port', Key(check_port, kind='int')),
    ])),
    ('emulate_attack', OrderedDict([
        ('attack_type', Key(required=True, choices=ATTACK_TYPES)),
        ('target_account', Key(check_account, required=True)),
        ('attempt_number', Key(check_attempt_number, required=True, kind='int')),
        ('attack_time', Key(check_attack_time)),
    ])),
    ('emulate_traffic_capture_file', OrderedDict([
        ('format', Key(required=True, choices=CAPTURE_FORMATS)),
        ('file_name', Key(check_guest_file, required=True)),
        ('attack_type', Key(required=True, choices=ATTACK_TYPES)),
        ('noise_level', Key(required=True, choices=NOISE_LEVELS)),
        ('attack_source', Key(check_ipv4)),
    ])),
])
# Types of the CyRIS format that act on a running guest: the range runs them after boot.
RUNTIME_TASKS = ('emulate_attack', 'emulate_traffic_capture_file')
# The types kvm_auto_image bakes into images.
BUILD_TASKS = tuple(t for t in TASK_TYPES if t not in RUNTIME_TASKS)
KNOWN_TASKS = tuple(TASK_TYPES)
RUNTIME_IN_IMAGE = ("%s runs on each clone after its first boot, not in an image: give it to the range "
                    "(role cyris.kvm_auto.kvm_auto_range), which runs it through the guest agent")


def task_options():
    """The ``options`` of kvm_auto_image's ``tasks`` option (runtime types are ``raw``, refused later)."""
    options = dict((ttype, dict(type='list', elements='dict',
                                options=dict((name, key.option()) for name, key in TASK_TYPES[ttype].items())))
                   for ttype in BUILD_TASKS)
    options.update((ttype, dict(type='raw')) for ttype in RUNTIME_TASKS)
    return options


def _is_text(value):
    # Integers are fine (YAML reads "passwd: 1234" as one); a float would lose digits (1.10 -> 1.1).
    return isinstance(value, TEXT_TYPES + (int,)) and not isinstance(value, bool)


def task_type_of(item, build=False):
    """The task type of one item of a task list: (type, error text or None).

    Keys holding null are left out: kvm_auto_image's argument spec fills in every task type.
    The type is None when the error is about the item itself; with ``build`` (kvm_auto_image) a
    runtime type is returned with its error, which belongs to the type's place
    (``tasks[1].emulate_attack``).
    """
    shape = 'expected a single-key mapping such as {add_account: [...]}, got '
    if not isinstance(item, Mapping):
        return None, shape + kind_of(item)
    kinds = ['%s' % k for k, v in item.items() if v is not None]
    if not kinds:
        return None, shape + 'a mapping with no task type'
    if len(kinds) > 1:
        return None, shape + 'a mapping with %d keys (%s)' % (len(kinds), ' and '.join(sorted(kinds)))
    ttype = kinds[0]
    if build and ttype in RUNTIME_TASKS:
        return ttype, RUNTIME_IN_IMAGE % ttype
    if ttype not in TASK_TYPES:
        return None, 'unknown task type %s (known: %s)' % (show(ttype), ', '.join(KNOWN_TASKS))
    return ttype, None


def params_list_error(value):
    """Error text when the value of a task type is not a non-empty list of parameter maps, else None."""
    if not isinstance(value, list):
        return 'expected a list, got %s' % kind_of(value)
    if not value:
        return 'the list is empty'
    return None


def check_task_params(ttype, params):
    """One parameter map of task type ``ttype``: (clean, errors).

    ``clean`` maps each given key to its text (null or empty optional keys left
    out); ``errors`` lists (key, text) pairs, key '' for the map itself.
    """
    if not isinstance(params, Mapping):
        return {}, [('', 'expected a mapping, got %s' % kind_of(params))]
    keys = TASK_TYPES[ttype]
    errors = []
    for name in params:
        if name not in keys:
            errors.append(('', 'unknown key %s (known: %s)' % (show('%s' % name), ', '.join(keys))))
    clean = {}
    for name, key in keys.items():
        value = params.get(name)
        if isinstance(value, datetime.date):
            value = value.isoformat()  # YAML reads attack_time: 2017-11-18 as a date
        if value is None:
            if key.required:
                errors.append(('', 'missing required key %s' % name))
            continue
        if not _is_text(value):
            wanted = 'a whole number' if key.kind == 'int' else 'a string'
            errors.append((name, 'expected %s, got %s' % (wanted, kind_of(value))))
            continue
        text = '%s' % value
        if text == '' and not key.required and not key.secret:
            continue  # an empty optional value is no value; an empty password is a mistake
        problem = key.check(text)
        if problem:
            errors.append((name, problem))
        else:
            clean[name] = text
    if ttype == 'modify_account':
        if params.get('new_account') in (None, '') and params.get('new_passwd') is None:
            errors.append(('', 'modify_account needs new_account or new_passwd'))
        elif clean.get('new_account') is not None and clean.get('new_account') == clean.get('account'):
            errors.append(('new_account', '%s is the current name of the account' % show(clean.pop('new_account'))))
    if ttype == 'emulate_malware' and clean.get('mode') in MALWARE_MODES:
        mode = clean['mode']
        for other_mode, key in MALWARE_MODES.items():
            given = params.get(key) not in (None, '')
            if other_mode == mode and not given:
                errors.append(('', 'mode %s needs %s' % (mode, key)))
            elif other_mode != mode and given:
                errors.append((key, '%s is for mode %s; the mode of this task is %s' % (key, other_mode, mode)))
                clean.pop(key, None)
    return clean, errors


def malware_errors(entries):
    """Clashes between the emulate_malware tasks of one guest: [(field, text)].

    ``entries`` are (field, clean parameters) pairs in task order.  A name is one
    program and one unit in the guest, and a port can have one listener.
    """
    errors = []
    owners = {}
    for field, params in entries:
        for key in ('name', 'port'):
            value = params.get(key)
            if value is None:
                continue
            value = '%d' % int(value) if key == 'port' else '%s' % value  # the range has text: 080 is 80
            if (key, value) in owners:
                errors.append(('%s.%s' % (field, key), '%s is already the %s of %s' % (
                    show(value), key, owners[(key, value)])))
            else:
                owners[(key, value)] = field
    return errors


def secret_values(params):
    """The texts under secret keys of a parameter map, valid or not, for masking."""
    if not isinstance(params, Mapping):
        return []
    return ['%s' % params[k] for k in SECRET_KEYS if _is_text(params.get(k)) and '%s' % params[k]]


def version_pin_error(package_manager, osinfo):
    """Error text when a version cannot be pinned: no package manager given and none known for ``osinfo``."""
    if package_manager or package_manager_of(osinfo):
        return None
    return 'the package manager of %s is unknown, so a version cannot be pinned; give package_manager' % (
        show(osinfo) if osinfo else 'this template (no osinfo)')


def pinned_packages(packages, version, package_manager, osinfo):
    """Package words with ``version`` pinned (``name=V`` for apt and zypper, ``name-V`` for yum and dnf)."""
    if version is None:
        return list(packages)
    manager = package_manager or package_manager_of(osinfo)
    separator = '-' if manager in ('yum', 'dnf') else '='
    return ['%s%s%s' % (p, separator, version) for p in packages]


# ---- accounts through the tasks

def follow_accounts(ops, root_password=None):
    """Track each account through add_account and modify_account operations, in order.

    ``ops`` are dicts with ``kind``, ``field`` (``tasks[1].add_account[0]``) and
    the keys of their task type; other kinds are ignored.  Accounts are
    identities, so a password follows its account through renames, and only the
    last password of an account counts (virt-customize sets them all at the end).

    Returns a dict:
    ``passwords``: {final name: (secret, field of the secret)};
    ``accounts``: final names of the accounts the tasks add or rename, in order;
    ``errors``: [(field, text)] for each add or rename onto a name already taken,
    a change of a name renamed away before, and a second root password.
    """
    names = {TEMPLATE_ROOT: TEMPLATE_ROOT}   # current name -> identity
    origin = {TEMPLATE_ROOT: 'an account of every template'}   # current name -> how it came to be
    gone = {}   # name renamed away -> (new name, field)
    passwords = {}   # identity -> (secret, field)
    listed = []   # identities the tasks add or rename, in order
    errors = []
    if root_password is not None:
        passwords[TEMPLATE_ROOT] = (root_password, 'root_password')
    for op in ops:
        field = op['field']
        if op['kind'] == 'add_account':
            name = op['account']
            if name in names:
                errors.append((field + '.account', '%s is already %s' % (show(name), origin[name])))
                continue
            names[name] = field
            origin[name] = 'added by ' + field
            gone.pop(name, None)
            listed.append(field)
            if op.get('passwd') is not None:
                passwords[field] = (op['passwd'], field + '.passwd')
        elif op['kind'] == 'modify_account':
            name = op['account']
            if name not in names and name in gone:
                errors.append((field + '.account', '%s no longer exists: %s renamed it to %s' % (
                    show(name), gone[name][1], show(gone[name][0]))))
                continue
            if name not in names:
                names[name] = name
                origin[name] = 'an account of the template (changed by %s)' % field
            identity = names[name]
            if op.get('new_passwd') is not None:
                previous = passwords.get(identity)
                if previous and previous[1] == 'root_password':
                    errors.append((field + '.new_passwd', 'root_password also sets the password of %s; give it once'
                                   % show(name)))
                else:
                    passwords[identity] = (op['new_passwd'], field + '.new_passwd')
            new_name = op.get('new_account')
            if new_name is not None:
                if new_name in names:
                    errors.append((field + '.new_account', '%s is already %s' % (show(new_name), origin[new_name])))
                    continue
                del names[name]
                del origin[name]
                names[new_name] = identity
                origin[new_name] = 'the new name given by ' + field
                gone[name] = (new_name, field)
                gone.pop(new_name, None)
                if identity not in listed:
                    listed.append(identity)
    final_name = dict((identity, name) for name, identity in names.items())
    return {
        'passwords': dict((final_name[i], secret) for i, secret in passwords.items() if i in final_name),
        'accounts': [final_name[i] for i in listed if i in final_name],
        'errors': errors,
    }
