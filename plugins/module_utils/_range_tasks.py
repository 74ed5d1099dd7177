# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Validation of the tasks of kvm-auto guests in a range description."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections.abc import Mapping

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import TEXT_TYPES as _TEXT_TYPES, kind_of, show

PACKAGE_MANAGERS = ('apt', 'apt-get', 'yum', 'dnf', 'zypper')

# task type -> (required keys, optional keys); the types kvm_auto_image bakes into images.
TASK_KEYS = {
    'add_account': (('account', 'passwd'), ('full_name',)),
    'modify_account': (('account',), ('new_account', 'new_passwd')),
    'install_package': (('name',), ('package_manager', 'version')),
    'copy_content': (('src', 'dst'), ()),
    'execute_program': (('program', 'interpreter'), ('args', 'execute_time')),
    'firewall_rules': (('rule',), ()),
}
# Types of the CyRIS format that act on a running guest: nothing can bake them into an image.
RUNTIME_TASKS = ('emulate_attack', 'emulate_malware', 'emulate_traffic_capture_file')
SECRET_KEYS = ('passwd', 'new_passwd')

_POSIX_ACCOUNT_RE = re.compile(r'^[a-z_][a-z0-9_-]{0,30}\$?$')
_PACKAGE_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9+._@:~-]{0,127}$')


def _check_task_params(place, ttype, params, chk, resolve_file):
    """One task parameter map, normalized (strings only); None when invalid."""
    required, optional = TASK_KEYS[ttype]
    chk.unknown_keys(place, params, required + optional)
    out = {}
    ok = True
    for key in required:
        if not chk.required(place, params, key):
            ok = False
    for key in required + optional:
        if key not in params or params[key] is None:
            continue
        value = params[key]
        fplace = '%s.%s' % (place, key)
        if key in SECRET_KEYS:
            if isinstance(value, bool) or not isinstance(value, _TEXT_TYPES + (int,)):
                chk.error(fplace, 'expected a string, got %s' % kind_of(value))
                ok = False
                continue
            value = '%s' % value
            if value == '':
                chk.error(fplace, 'the password is empty')
                ok = False
                continue
            chk.secrets.add(value)
            out[key] = value
            continue
        checked = _check_task_value(fplace, ttype, key, value, chk, resolve_file)
        if checked is None:
            ok = False
        else:
            out[key] = checked
    if ttype == 'modify_account' and ok and not (out.get('new_account') or out.get('new_passwd')):
        chk.error(place, 'modify_account needs new_account or new_passwd')
        ok = False
    return out if ok else None


def _check_task_value(place, ttype, key, value, chk, resolve_file):
    if key in ('account', 'new_account'):
        return chk.text(place, value, _POSIX_ACCOUNT_RE, 'a POSIX account name (lower case, digits, _ -, at most 32)')
    if key == 'full_name':
        text = chk.text(place, value)
        if text is not None and (':' in text or '\n' in text or ',' in text):
            chk.error(place, '%s must not hold : , or a line break (GECOS field)' % show(text))
            return None
        return text
    if key == 'name' and ttype == 'install_package':
        text = chk.text(place, value)
        if text is None:
            return None
        names = text.split()
        bad = [n for n in names if not _PACKAGE_RE.match(n)]
        if not names or bad:
            chk.error(place, '%s is not a list of package names separated by spaces' % show(text))
            return None
        return ' '.join(names)
    if key == 'package_manager':
        return chk.choice(place, value, PACKAGE_MANAGERS)
    if key == 'version':
        return chk.text(place, value, _PACKAGE_RE, 'a package version')
    if key == 'execute_time':
        text = chk.choice(place, value, ('before_clone', 'after_clone'))
        if text == 'after_clone':
            chk.error(place, "'after_clone' is not supported: kvm-auto runs programs inside the image before cloning")
            return None
        return text
    if key == 'dst':
        text = chk.text(place, value)
        if text is not None and (not text.startswith('/') or '\n' in text):
            chk.error(place, '%s is not an absolute path in the guest' % show(text))
            return None
        return text
    if key in ('src', 'rule', 'program'):
        text = chk.text(place, value)
        if text is None:
            return None
        if '\n' in text or '\x00' in text:
            chk.error(place, '%s holds a line break' % show(text))
            return None
        if key == 'program':
            return text
        return resolve_file(place, text)
    text = chk.text(place, value)
    if text is not None and ('\n' in text or '\x00' in text):
        chk.error(place, '%s holds a line break' % show(text))
        return None
    return text


def check_tasks(place, raw, chk, resolve_file):
    """Normalized task list ``[{type: [params...]}]`` for a kvm-auto guest; None when invalid."""
    items = chk.sequence(place, raw)
    if items is None:
        return None
    tasks = []
    ok = True
    for pos, item in enumerate(items):
        tplace = '%s[%d]' % (place, pos)
        if not isinstance(item, Mapping) or len(item) != 1:
            chk.error(tplace, 'expected a single-key mapping such as {add_account: [...]}, got %s' % (
                kind_of(item) if not isinstance(item, Mapping) else 'a mapping with %d keys' % len(item)))
            ok = False
            continue
        ttype = '%s' % list(item)[0]
        if ttype in RUNTIME_TASKS:
            chk.error(tplace, 'task type %s is not supported by kvm-auto: it acts on a running guest, '
                              'and kvm-auto bakes tasks into the image' % ttype)
            ok = False
            continue
        if ttype not in TASK_KEYS:
            chk.error(tplace, 'unknown task type %s (known: %s)' % (show(ttype), ', '.join(sorted(TASK_KEYS))))
            ok = False
            continue
        params_list = chk.sequence('%s.%s' % (tplace, ttype), item[ttype])
        if params_list is None:
            ok = False
            continue
        normalized = []
        for ppos, params in enumerate(params_list):
            pplace = '%s.%s[%d]' % (tplace, ttype, ppos)
            if chk.mapping(pplace, params) is None:
                ok = False
                continue
            checked = _check_task_params(pplace, ttype, params, chk, resolve_file)
            if checked is None:
                ok = False
            else:
                normalized.append(checked)
        tasks.append({ttype: normalized})
    return tasks if ok else None


def final_accounts(tasks):
    """Account names that exist in a guest after its tasks (renames applied), in order."""
    accounts = []
    for task in tasks or ():
        for ttype, params_list in task.items():
            for params in params_list:
                if ttype == 'add_account' and params['account'] not in accounts:
                    accounts.append(params['account'])
                elif ttype == 'modify_account' and params.get('new_account'):
                    if params['account'] in accounts:
                        accounts[accounts.index(params['account'])] = params['new_account']
                    elif params['new_account'] not in accounts:
                        accounts.append(params['new_account'])
    return accounts
