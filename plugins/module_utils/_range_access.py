# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Trainee access of a range, kept on the controller: kvm_auto_access.

Each instance's entry point gets a trainee account with a random password and a port of its
KVM host that leads to the guest's SSH. The state file (0600) records them and is the one
source of truth: the notification file (0600) is written from it, and a rerun keeps what it
records. ``assign_access`` and ``notification_text`` are pure; ``AccessRun`` reads and
writes the files.

The state file is YAML written in its JSON form (JSON is YAML), so the module needs no YAML
library on the controller's Python: ``{range_id, instances: [{instance, guest, host, address,
port, account, password, salt}]}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

from ansible_collections.cyris.kvm_auto.plugins.module_utils._cyris_schema import check_account
from ansible_collections.cyris.kvm_auto.plugins.module_utils._files import write_private
from ansible_collections.cyris.kvm_auto.plugins.module_utils._password_hash import (
    is_salt, new_password, new_salt, sha512_crypt)

PORTS_VARIABLE = 'kvm_auto_range_trainee_ports'
# QEMU runs unprivileged: it cannot listen on a port below 1024.
MIN_PORT = 1024
MAX_PORT = 65535
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
FILE_MODE = 0o600

# What check mode returns as the hash of an instance that has no password yet: well formed, so
# the guests' identities can be compared, and plainly no hash of anything.
PLACEHOLDER_HASH = '$6$checkmode$' + ('not.a.real.hash.' * 6)[:86]

PUBLIC_FIELDS = ('instance', 'guest', 'host', 'address', 'port', 'account')
RECORD_FIELDS = PUBLIC_FIELDS + ('password', 'salt')

_GREETING = '''Dear user,

Training session #{range_id} is ready. Each trainee logs in to the entry point of one cyber
range instance, as listed below:

- Total number of cyber range instances: {count}'''

_CLOSING = '''

This file holds the trainees' passwords: give each trainee only the lines of their instance.

Best regards,
The cyber range administrators
'''


class AccessError(Exception):
    """Problems that stop the module before it writes anything; ``errors`` lists them all."""

    def __init__(self, errors):
        super(AccessError, self).__init__('; '.join(errors))
        self.errors = list(errors)


# ---- pure rules

def parse_ports(text):
    """(first, last) of a port range ``FIRST-LAST`` (or one port ``N``); raise AccessError."""
    parts = str(text).strip().split('-')
    if 1 <= len(parts) <= 2 and all(p.strip().isdigit() for p in parts):
        first, last = int(parts[0]), int(parts[-1])
        if MIN_PORT <= first <= last <= MAX_PORT:
            return first, last
    raise AccessError(['ports: %r is not a port range FIRST-LAST with %d <= FIRST <= LAST <= %d (%s)' % (
        text, MIN_PORT, MAX_PORT, PORTS_VARIABLE)])


def _subject(entry):
    return 'instance %s (%s)' % (entry['instance'], entry['guest'])


def _host_view(hosts, host):
    """(listening ports, running guests) of ``host`` as given; None when it is not given or malformed."""
    view = hosts.get(host)
    if not isinstance(view, dict):
        return None
    try:
        listening = set(int(port) for port in view.get('listening') or ())
    except (TypeError, ValueError):
        return None
    return listening, set(view.get('running') or ())


def _entry_errors(entry, hosts, seen):
    errors = []
    if not isinstance(entry['instance'], int) or entry['instance'] < 1:
        errors.append('%s: instance must be a positive number' % _subject(entry))
    elif entry['instance'] in seen['instance']:
        errors.append('%s: instance %s is given twice' % (_subject(entry), entry['instance']))
    if entry['guest'] in seen['guest']:
        errors.append('%s: guest %s is the entry point of two instances' % (_subject(entry), entry['guest']))
    account_error = check_account(entry['account'])
    if account_error:
        errors.append('%s: account: %s' % (_subject(entry), account_error))
    address = entry['address']
    if not address or address.startswith('-') or any(c.isspace() for c in address):
        errors.append('%s: address: %r is not a host name or address trainees can connect to' % (
            _subject(entry), address))
    if _host_view(hosts, entry['host']) is None:
        errors.append('%s: hosts: %s is missing or has no list of listening ports' % (_subject(entry), entry['host']))
    return errors


def assign_access(entries, recorded, first, last, hosts):
    """The access of each instance of ``entries``, and every problem; (records, errors).

    ``recorded``: the state file's instances; ``hosts``: KVM host -> {listening: [ports],
    running: [guests]}. An instance keeps its recorded password and salt while its guest and
    host are unchanged, and its port too while that is in first..last; otherwise it gets a new
    password (``password`` and ``salt`` None here) and the lowest port of first..last that its
    host does not listen on and that no other instance of the range has: unique across the range,
    so that two inventory hosts that are one machine (or behind one address) never share a port. Records come in instance
    order, with the entry's ``sudo`` (default true); instances not in ``entries`` are dropped.
    """
    errors = []
    seen = {'instance': set(), 'guest': set()}
    valid = []
    for entry in entries:
        entry_errors = _entry_errors(entry, hosts, seen)
        seen['instance'].add(entry['instance'])
        seen['guest'].add(entry['guest'])
        errors.extend(entry_errors)
        if not entry_errors:
            valid.append(entry)

    by_instance = dict((record['instance'], record) for record in recorded)
    given = set()  # ports given to instances of the range
    records = []
    needing_port = []
    for entry in sorted(valid, key=lambda e: e['instance']):
        record = dict((field, entry[field]) for field in PUBLIC_FIELDS if field != 'port')
        record.update(port=None, password=None, salt=None, sudo=entry.get('sudo', True))
        old = by_instance.get(entry['instance'])
        if old is not None and (old['guest'], old['host']) == (entry['guest'], entry['host']):
            record.update(password=old['password'], salt=old['salt'])
            if first <= old['port'] <= last and old['port'] not in given:
                record['port'] = old['port']
                given.add(old['port'])
                listening, running = _host_view(hosts, entry['host'])
                if old['port'] in listening and entry['guest'] not in running:
                    errors.append('%s: port %d on %s is in use by another program: free it or choose other '
                                  'ports (%s)' % (_subject(entry), old['port'], entry['host'], PORTS_VARIABLE))
        if record['port'] is None:
            needing_port.append(record)
        records.append(record)

    for host in sorted(set(record['host'] for record in needing_port)):
        waiting = [record for record in needing_port if record['host'] == host]
        listening = _host_view(hosts, host)[0]
        free = [port for port in range(first, last + 1) if port not in listening and port not in given]
        if len(free) < len(waiting):
            errors.append('%s: trainee ports %d-%d have %d free port%s there, but %d instance%s need%s one (%s): '
                          'choose a wider port range (%s) or free ports on %s' % (
                              host, first, last, len(free), '' if len(free) == 1 else 's', len(waiting),
                              '' if len(waiting) == 1 else 's', 's' if len(waiting) == 1 else '',
                              ', '.join(str(record['instance']) for record in waiting), PORTS_VARIABLE, host))
            continue
        for record, port in zip(waiting, free):
            record['port'] = port
            given.add(port)
    return records, errors


def notification_text(range_id, records):
    """The notification file: CyRIS's text in its shape, one block per instance in instance order."""
    blocks = ['\n\n- Cyber range instance #%d:\n  Login: ssh %s@%s -p %d\n  Password: %s' % (
        record['instance'], record['account'], record['address'], record['port'], record['password'])
        for record in sorted(records, key=lambda r: r['instance'])]
    return _GREETING.format(range_id=range_id, count=len(records)) + ''.join(blocks) + _CLOSING


def state_text(range_id, records):
    """The state file's text: fields in a fixed order, so the same records give the same bytes."""
    instances = [dict((field, record[field]) for field in RECORD_FIELDS) for record in records]
    return json.dumps({'range_id': range_id, 'instances': instances}, indent=2) + '\n'


def public_access(records):
    """The records without password and salt: what the module returns and the details file keeps."""
    return [dict((field, record[field]) for field in PUBLIC_FIELDS) for record in records]


# ---- the state file as read back

def _record_problem(record):
    """What is wrong with one recorded instance (never showing its password), or None."""
    if not isinstance(record, dict):
        return 'an instance is not a mapping'
    for field in ('guest', 'host', 'address', 'account', 'password'):
        if not isinstance(record.get(field), str) or not record[field]:
            return 'instance %s: %s is missing or not a text' % (record.get('instance'), field)
    for field, low, high in (('instance', 1, None), ('port', 1, MAX_PORT)):
        value = record.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high and value > high):
            return 'instance %s: %s is missing or not a number in range' % (record.get('instance'), field)
    if not isinstance(record.get('salt'), str) or not is_salt(record['salt']):
        return 'instance %s: salt is missing or not 1 to 16 of ./0-9A-Za-z' % record['instance']
    return None


def parse_state(text, range_id):
    """The recorded instances of a state file's text; raise AccessError saying what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        problem = 'it is not the JSON form of YAML that kvm_auto_access writes (%s)' % exc
    else:
        if not isinstance(data, dict) or not isinstance(data.get('instances'), list):
            problem = 'it has no list of instances'
        elif str(data.get('range_id')) != range_id:
            problem = 'it records range %s, not range %s' % (data.get('range_id'), range_id)
        else:
            problem = next((p for p in (_record_problem(r) for r in data['instances']) if p), None)
            if problem is None:
                return data['instances']
    raise AccessError(['state_file: %s: fix it, or remove it to give every trainee a new password and port' % problem])


# ---- files

def file_status(path, text):
    """How the file at ``path`` stands against ``text`` (None: not to be written): for the diff."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return 'absent'
    if not stat.S_ISREG(info.st_mode):
        return 'not a regular file'
    status = 'mode %04o' % stat.S_IMODE(info.st_mode)
    if text is not None:
        with open(path, 'rb') as handle:
            status += ', up to date' if handle.read() == text.encode('utf-8') else ', out of date'
    return status


def wanted_status(text):
    """What ``file_status`` says once ``text`` is written."""
    return 'mode %04o, up to date' % FILE_MODE if text is not None else 'absent'


def bring_file(path, text):
    """Make the file at ``path`` hold ``text`` with mode 0600 (``text`` None: remove it); True when changed."""
    if text is None:
        if not os.path.lexists(path):
            return False
        os.unlink(path)
        return True
    status = file_status(path, text)
    if status == wanted_status(text):
        return False
    if status.endswith(', up to date'):
        os.chmod(path, FILE_MODE)
    else:
        write_private(path, text, FILE_MODE)
    return True


# ---- one run of the module

class AccessRun:
    """Bring the state and notification files to what the module parameters ask for."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.range_id = self.params['range_id']
        self.paths = {'state_file': self.params['state_file'], 'notification_file': self.params['notification_file']}

    def run(self):
        try:
            result = self._run()
        except AccessError as exc:
            self.module.fail_json(msg='range %s: %s' % (self.range_id, '; '.join(exc.errors)), errors=exc.errors)
        except (IOError, OSError) as exc:
            # The one expected failure left: the file system refused (permission, disk full).
            message = '%s: %s' % (exc.filename or 'trainee access files', exc.strerror or exc)
            self.module.fail_json(msg='range %s: %s' % (self.range_id, message), errors=[message])
        self.module.exit_json(**result)

    def _run(self):
        if self.paths['state_file'] == self.paths['notification_file']:
            raise AccessError(['notification_file: it is the state_file; give each its own path'])
        if self.params['state'] == 'absent':
            return self._finish({'state_file': None, 'notification_file': None}, [], [], set())
        records, new, recorded = self._plan()
        texts = {'state_file': state_text(self.range_id, records),
                 'notification_file': notification_text(self.range_id, records)}
        recorded_access = [dict(record, password='recorded') for record in public_access(recorded)]
        return self._finish(texts, records, recorded_access, new)

    def _plan(self):
        """(the complete records, the instances among them with a new password, the recorded instances)."""
        errors = []
        records = []
        try:
            first, last = parse_ports(self.params['ports'])
        except AccessError as exc:
            errors.extend(exc.errors)
            first, last = None, None
        length = self.params['password_length']
        if not MIN_PASSWORD_LENGTH <= length <= MAX_PASSWORD_LENGTH:
            errors.append('password_length: %d is not between %d and %d' % (
                length, MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH))
        for option, path in sorted(self.paths.items()):
            # In check mode the directory may be one that the run would create before this task.
            if not self.module.check_mode and not os.path.isdir(os.path.dirname(path) or '.'):
                errors.append('%s: the directory of %s does not exist: create it first' % (option, path))
        recorded = self._read_state(errors)
        if first is not None and recorded is not None:
            records, assign_errors = assign_access(self.params['entries'], recorded, first, last,
                                                   self.params['hosts'])
            errors.extend(assign_errors)
        if errors:
            raise AccessError(errors)
        new = set()
        for record in records:
            if record['password'] is None:
                # In check mode too: the new password is compared with the files, never written or returned.
                record.update(password=new_password(length), salt=new_salt())
                new.add(record['instance'])
        return records, new, recorded

    def _read_state(self, errors):
        """The recorded instances ([] without a state file), or None after adding the problem to ``errors``."""
        path = self.paths['state_file']
        try:
            with open(path, 'rb') as handle:
                text = handle.read().decode('utf-8')
        except FileNotFoundError:
            return []
        except UnicodeDecodeError:
            errors.append('state_file: %s is not UTF-8 text: fix it, or remove it to give every trainee a new '
                          'password and port' % path)
            return None
        try:
            return parse_state(text, self.range_id)
        except AccessError as exc:
            errors.extend(exc.errors)
            return None

    def _finish(self, texts, records, recorded_access, new):
        before_files = dict((option, file_status(path, texts[option])) for option, path in self.paths.items())
        after_files = dict((option, wanted_status(texts[option])) for option in self.paths)
        changed = before_files != after_files
        if changed and not self.module.check_mode:
            # The state file first: the notification is made from it, so a rerun completes a run cut short.
            for option in ('state_file', 'notification_file'):
                bring_file(self.paths[option], texts[option])
        after_access = [dict(record, password='new' if record['instance'] in new else 'recorded')
                        for record in public_access(records)]
        result = {'changed': changed, 'access': public_access(records), 'accounts': self._accounts(records, new)}
        if self.module._diff:
            result['diff'] = {'before': {'instances': recorded_access, 'files': before_files},
                              'after': {'instances': after_access, 'files': after_files}}
        return result

    def _accounts(self, records, new):
        accounts = {}
        for record in records:
            placeholder = self.module.check_mode and record['instance'] in new
            accounts[record['guest']] = {
                'name': record['account'], 'sudo': record['sudo'],
                'password_hash': PLACEHOLDER_HASH if placeholder else sha512_crypt(record['password'], record['salt'])}
        return accounts
