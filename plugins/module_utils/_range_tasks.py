# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Validation of the tasks of kvm-auto guests in a range description.

The rules are those of _cyris_schema, which kvm_auto_image applies too; here every
problem is recorded with its place instead of stopping at the first, so a description
fails before any change with all the errors the image builds would meet.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.cyris.kvm_auto.plugins.module_utils._cyris_schema import (
    RUNTIME_TASKS, check_task_params, follow_accounts, is_after_clone, malware_errors, params_list_error, program_argv,
    secret_values, task_type_of, version_pin_error)


def check_tasks(guest_place, raw, chk, resolve_file, template=None):
    """Normalized task list ``[{type: [params...]}]`` of a kvm-auto guest; None when invalid.

    ``template``: the guest's entry of the template listing (find_template), or None
    when unknown; its osinfo tells whether a version can be pinned without package_manager.
    """
    place = guest_place + '.tasks'
    items = chk.sequence(place, raw)
    if items is None:
        return None
    tasks = []
    ops = []
    malware = []
    ok = True
    for pos, item in enumerate(items):
        field = 'tasks[%d]' % pos
        ttype, problem = task_type_of(item)
        if problem:
            chk.error('%s.%s' % (guest_place, '%s.%s' % (field, ttype) if ttype else field), problem)
            ok = False
            continue
        field = '%s.%s' % (field, ttype)
        problem = params_list_error(item[ttype])
        if problem:
            chk.error('%s.%s' % (guest_place, field), problem)
            ok = False
            continue
        normalized = []
        for ppos, params in enumerate(item[ttype]):
            pfield = '%s[%d]' % (field, ppos)
            pplace = '%s.%s' % (guest_place, pfield)
            chk.secrets.update(secret_values(params))
            clean, errors = check_task_params(ttype, params)
            for key, text in errors:
                chk.error('%s.%s' % (pplace, key) if key else pplace, text)
            failed = bool(errors)
            for key in ('src', 'rule'):
                if key in clean:
                    clean[key] = resolve_file('%s.%s' % (pplace, key), clean[key])
                    failed = failed or clean[key] is None
            if ttype == 'install_package' and 'version' in clean and not params.get('package_manager') \
                    and template is not None and template.get('arch') is not None:
                # An entry known by name only (arch None) does not tell the osinfo: the build checks it then.
                problem = version_pin_error(None, template.get('osinfo'))
                if problem:
                    chk.error(pplace + '.package_manager', problem)
                    failed = True
            if ttype == 'install_package' and 'name' in clean:
                clean['name'] = ' '.join(clean['name'].split())
            if 'account' in clean:
                ops.append(dict(clean, kind=ttype, field=pfield))
            if ttype == 'emulate_malware':
                malware.append((pfield, clean))
            if failed:
                ok = False
            else:
                normalized.append(clean)
        tasks.append({ttype: normalized})
    for field, text in follow_accounts(ops)['errors'] + malware_errors(malware):
        chk.error('%s.%s' % (guest_place, field), text)
        ok = False
    return tasks if ok else None


def after_boot_tasks(guest_place, tasks):
    """What runs on each clone after its first boot, in task order: the after_clone programs as
    {argv, label} for kvm_auto_guest_exec, and the runtime tasks as {label, TYPE: params}, which
    _range_emulate turns into steps of each clone."""
    work = []
    for pos, task in enumerate(tasks or ()):
        for ttype, params_list in task.items():
            for ppos, params in enumerate(params_list):
                label = '%s.tasks[%d].%s[%d]' % (guest_place, pos, ttype, ppos)
                if is_after_clone(ttype, params):
                    work.append({'argv': program_argv(params), 'label': label})
                elif ttype in RUNTIME_TASKS:
                    work.append({'label': label, ttype: params})
    return work


def task_ops(tasks):
    """The account operations of normalized ``tasks``, in the form follow_accounts reads."""
    ops = []
    for pos, task in enumerate(tasks or ()):
        for ttype, params_list in task.items():
            for ppos, params in enumerate(params_list):
                ops.append(dict(params, kind=ttype, field='tasks[%d].%s[%d]' % (pos, ttype, ppos)))
    return ops


def final_accounts(tasks):
    """Account names that exist in a guest after its tasks (renames applied), in order."""
    return follow_accounts(task_ops(tasks))['accounts']
