# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""One operation per range at a time: the lock file, who holds it, and when its holder is gone.

A lock is a file holding its owner as JSON. It is taken by linking a complete temporary file to
its path (the link fails when the path exists), so a lock file is never seen half written and
two runs never both take it. Only two things remove a lock file: its owner releasing it, and a
run taking over the lock of a holder whose process is gone. Both do so while holding an flock of
the lock's directory, after reading the file again: between that reading and the removal no run
can put another lock there (the path still exists), so neither removes a lock someone else has
just taken.

The owner is a run of ansible-playbook on a controller: its machine id and boot id, host name,
process id and that process's start time (a reused pid is another process), the operation and
the UTC time the lock was taken. kvm_auto_lock works it out on the controller
(``controller_owner``), where it also decides whether a holder is gone (``holder_is_gone``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os
import socket
import time

OPERATIONS = ('deploy', 'destroy', 'reset')

# What names a run; ``since`` and ``operation`` describe it but another value is the same run.
IDENTITY_FIELDS = ('machine_id', 'boot_id', 'pid', 'pid_start')
OWNER_FIELDS = ('operation', 'controller') + IDENTITY_FIELDS + ('since',)

MACHINE_ID_FILES = ('/etc/machine-id', '/var/lib/dbus/machine-id')

# The options a task gives; the action plugin validates them, the module receives them and
# adds what the action plugin works out (see plugins/modules/kvm_auto_lock.py).
TASK_ARGUMENT_SPEC = {
    'path': {'type': 'path', 'required': True},
    'state': {'type': 'str', 'default': 'present', 'choices': ['present', 'absent']},
    'operation': {'type': 'str', 'choices': list(OPERATIONS)},
    'resource': {'type': 'str', 'required': True},
    'timeout': {'type': 'int', 'default': 3600},
    'poll_interval': {'type': 'int', 'default': 5},
}
TASK_REQUIRED_IF = [('state', 'present', ['operation'])]


class LockError(Exception):
    """A lock that cannot be read, taken or released for a reason other than its holder."""


def _read_text(path):
    try:
        with open(path) as handle:
            return handle.read().strip() or None
    except (IOError, OSError):
        return None


def process_start(pid, proc='/proc'):
    """The start time of process ``pid`` (clock ticks after boot), or None when it does not exist."""
    text = _read_text(os.path.join(proc, str(pid), 'stat'))
    if text is None:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its last ')'.
    fields = text.rsplit(')', 1)[1].split()
    return int(fields[19])


def controller_owner(run_pid, operation, since=None, proc='/proc', etc_files=MACHINE_ID_FILES):
    """The owner of the run whose ansible-playbook process is ``run_pid``, on this controller."""
    machine_id = None
    for name in etc_files:
        machine_id = _read_text(name)
        if machine_id:
            break
    hostname = socket.gethostname()
    return {
        'operation': operation,
        'controller': hostname,
        # Without a machine id (some containers) the host name stands for the controller.
        'machine_id': machine_id or 'hostname:' + hostname,
        'boot_id': _read_text(os.path.join(proc, 'sys/kernel/random/boot_id')),
        'pid': run_pid,
        'pid_start': process_start(run_pid, proc),
        'since': since or time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
    }


def same_run(one, other):
    """True when two owners are the same run of the same controller."""
    return all(one.get(field) == other.get(field) for field in IDENTITY_FIELDS)


def same_holder(one, other):
    """True when two owners are exactly the same record (a later run has another ``since``)."""
    return all(one.get(field) == other.get(field) for field in OWNER_FIELDS)


def holder_is_gone(holder, owner, proc='/proc'):
    """True when ``holder`` took its lock from the controller of ``owner`` and its run is over.

    A holder from another controller is never judged gone: its processes are not visible here.
    After a reboot of this controller (another boot id) every earlier run is gone.
    """
    if holder.get('unreadable') or holder.get('machine_id') != owner['machine_id']:
        return False
    if holder.get('boot_id') != owner['boot_id']:
        return True
    return process_start(holder.get('pid'), proc) != holder.get('pid_start')


def describe(holder):
    """The holder as the messages name it."""
    if holder.get('unreadable'):
        return 'an unknown holder (the file is no lock of kvm_auto_lock)'
    return 'the %s run (pid %s on controller %s, since %s)' % (
        holder.get('operation'), holder.get('pid'), holder.get('controller'),
        (holder.get('since') or '?').replace('T', ' ').replace('Z', ' UTC'))


def read_holder(path):
    """The owner recorded in the lock at ``path``, None when there is no lock there.

    A file that does not hold an owner is returned as ``{'unreadable': True}``: it holds the lock
    for every run until someone removes it.
    """
    try:
        with open(path) as handle:
            text = handle.read()
    except (IOError, OSError) as error:
        if error.errno == errno.ENOENT:
            return None
        raise LockError('cannot read the lock %s: %s' % (path, error.strerror))
    try:
        holder = json.loads(text)
    except ValueError:
        holder = None
    if not isinstance(holder, dict) or not isinstance(holder.get('pid'), int):
        return {'unreadable': True}
    return dict((field, holder.get(field)) for field in OWNER_FIELDS)


def _check_directory(path):
    directory = os.path.dirname(path) or '.'
    if not os.path.isdir(directory):
        raise LockError('the directory of the lock %s does not exist' % path)
    return directory


def _link_new(path, owner):
    """Take the lock at ``path`` for ``owner`` when there is none: True when taken."""
    directory = _check_directory(path)
    temporary = os.path.join(directory, '.%s.%d.%d' % (os.path.basename(path), os.getpid(), time.monotonic_ns()))
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(descriptor, 'w') as handle:
            handle.write(json.dumps(dict((field, owner.get(field)) for field in OWNER_FIELDS), sort_keys=True) + '\n')
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except OSError as error:
            if error.errno == errno.EEXIST:
                return False
            raise
        return True
    except OSError as error:
        raise LockError('cannot take the lock %s: %s' % (path, error.strerror))
    finally:
        try:
            os.unlink(temporary)
        except OSError:
            pass


class _DirectoryLock(object):
    """An flock of the lock's directory: removals of lock files there happen one at a time."""

    def __init__(self, path):
        self.directory = _check_directory(path)
        self.descriptor = None

    def __enter__(self):
        try:
            self.descriptor = os.open(self.directory, os.O_RDONLY)
            fcntl.flock(self.descriptor, fcntl.LOCK_EX)
        except OSError as error:
            if self.descriptor is not None:
                os.close(self.descriptor)
            raise LockError('cannot lock the directory %s: %s' % (self.directory, error.strerror))
        return self

    def __exit__(self, *exc):
        os.close(self.descriptor)  # closing it releases the flock


def take(path, owner, gone_holder=None, check_mode=False):
    """One attempt to take the lock at ``path`` for ``owner``.

    ``gone_holder``: a holder that the controller found gone; its lock (exactly that one) is
    replaced. Returns ``(taken, changed, holder)``: ``holder`` is who holds the lock when
    ``owner`` does not, or the replaced holder when it was taken over.
    """
    holder = read_holder(path)
    if holder is not None and same_run(holder, owner):
        return True, False, None
    if check_mode:
        return holder is None, holder is None, holder
    if holder is None and _link_new(path, owner):
        return True, True, None
    if gone_holder is None:
        return False, False, read_holder(path)
    with _DirectoryLock(path):
        current = read_holder(path)
        # Released or taken by someone else since the controller looked: not ours to remove.
        replaced = current is not None and same_holder(current, gone_holder)
        if replaced:
            _remove(path)
    if (replaced or current is None) and _link_new(path, owner):
        return True, True, gone_holder if replaced else None
    return False, False, read_holder(path)


def release(path, owner, check_mode=False):
    """Remove the lock at ``path`` when ``owner`` holds it: ``(changed, holder)``, ``holder``
    being another run that holds it (left in place) or None."""
    if check_mode:
        holder = read_holder(path)
        if holder is None or same_run(holder, owner):
            return holder is not None, None
        return False, holder
    with _DirectoryLock(path):
        holder = read_holder(path)
        if holder is None or not same_run(holder, owner):
            return False, holder
        _remove(path)
    return True, None


def _remove(path):
    try:
        os.unlink(path)
    except OSError as error:
        if error.errno != errno.ENOENT:
            raise LockError('cannot remove the lock %s: %s' % (path, error.strerror))


def held_message(resource, holder, path, waited=None):
    """The failure when another run still holds the lock after ``waited`` seconds (None: timeout 0)."""
    return '%s is locked by %s: lock %s%s; if that run is gone, remove the file and run again' % (
        resource, describe(holder), path,
        ', not waiting (timeout 0)' if waited is None else ', waited %ds' % waited)


def check_mode_message(resource, holder, path, gone):
    """The warning of check mode when another run holds the lock."""
    return '%s is locked by %s: lock %s; a run would %s' % (
        resource, describe(holder), path, 'take over its lock, that run being gone' if gone else 'wait for it')


def waiting_message(resource, holder, path):
    """The line shown when a run starts waiting for a holder."""
    return '%s: waiting for %s to release the lock %s' % (resource, describe(holder), path)


def takeover_message(resource, holder, path):
    """The warning when the lock of a run that is gone is taken over."""
    return '%s: took over the lock %s from %s, which is gone' % (resource, path, describe(holder))
