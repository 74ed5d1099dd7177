# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""kvm_auto_vms: the guests of one KVM host in one module run, each exactly as kvm_auto_vm runs it.

``validate_guests`` checks each guest against kvm_auto_vm's options (``_vm_options``), naming the
guest; ``apply_guests`` runs ``VmRun`` for every guest at once, each in a thread of its own (a
guest's run is mostly waiting: for virt-install, libvirt, its boot), with a ``GuestModule`` in
place of the AnsibleModule; ``batch_result`` is what the module returns.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import traceback

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_options import REQUIRED_BY, argument_spec
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_run import VmRun


class GuestFailed(Exception):
    """One guest's run failed; ``context`` holds what kvm_auto_vm would return with the failure."""

    def __init__(self, msg, context):
        super(GuestFailed, self).__init__(msg)
        self.msg = msg
        self.context = context


class GuestModule:
    """What VmRun uses of an AnsibleModule, for one guest of a batch.

    The guest has its own parameters; its commands run through the real module; its warnings
    are kept, so the module shows them in the guests' order; a failure ends this guest only.
    """

    def __init__(self, module, params):
        self._module = module
        self.params = params
        self.check_mode = module.check_mode
        self.warnings = []

    def warn(self, warning):
        self.warnings.append(warning)

    def get_bin_path(self, name):
        return self._module.get_bin_path(name)

    def run_command(self, *args, **kwargs):
        return self._module.run_command(*args, **kwargs)

    def fail_json(self, msg, **context):
        raise GuestFailed(msg, context)


def _label(guest, index):
    name = guest.get('name') if isinstance(guest, dict) else None
    return 'guest %s' % name if name else 'guests[%d]' % index


def validate_guests(guests):
    """Each guest's parameters as kvm_auto_vm would have them (with its defaults).

    Returns (parameters, errors, secrets): ``errors`` names the guest (or its index) of each
    problem, all at once; ``secrets`` are the values of no_log options (the trainee's hash),
    which the module must mask in everything it returns.
    """
    validated, errors, secrets = [], [], set()
    seen = set()
    for index, guest in enumerate(guests):
        label = _label(guest, index)
        if not isinstance(guest, dict):
            errors.append('%s: a guest is a dict of the options of kvm_auto_vm, not %r' % (label, guest))
            continue
        result = ArgumentSpecValidator(argument_spec(), required_by=REQUIRED_BY).validate(guest)
        secrets.update(result._no_log_values)
        errors.extend('%s: %s' % (label, message) for message in result.error_messages)
        name = result.validated_parameters.get('name')
        if name in seen:
            # Two runs on one domain at once would race each other.
            errors.append('%s: named more than once in guests' % label)
        seen.add(name)
        validated.append(result.validated_parameters)
    return validated, errors, secrets


def run_guest(guest_module):
    """One guest's result, as kvm_auto_vm returns it; a failed guest's has ``failed`` and ``msg``."""
    name = guest_module.params['name']
    try:
        return VmRun(guest_module).apply()
    except GuestFailed as exc:
        return dict(exc.context, name=name, failed=True, msg=exc.msg)
    except Exception as exc:  # pylint: disable=broad-except
        # An unforeseen error of one guest must not lose the others' results.
        return {'name': name, 'failed': True, 'msg': 'guest %s: %s' % (name, exc),
                'exception': traceback.format_exc()}


def apply_guests(module, guests, run=run_guest):
    """Run every guest (validated parameters) at once; return their results in the guests' order.

    The guests' warnings are shown through ``module``, guest by guest, once all have finished.
    """
    guest_modules = [GuestModule(module, params) for params in guests]
    results = [None] * len(guest_modules)

    def one(index):
        results[index] = run(guest_modules[index])

    threads = [threading.Thread(target=one, args=(index,)) for index in range(len(guest_modules))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for guest_module in guest_modules:
        for warning in guest_module.warnings:
            module.warn(warning)
    return results


def batch_result(results):
    """What kvm_auto_vms returns: every guest's result, the changed guests' diffs, one failure message.

    Each guest's diff is headed with its name, in its result and in the list of diffs: Ansible
    shows the diffs of a loop's results (a kvm_auto_wait of several hosts), else the list.
    """
    failed = [r for r in results if r.get('failed')]
    for result in results:
        if result.get('diff'):
            result['diff'] = dict(result['diff'], before_header='guest %s' % result['name'],
                                  after_header='guest %s' % result['name'])
    out = {
        'changed': any(r.get('changed') for r in results),
        'guests': results,
        'diff': [r['diff'] for r in results if r.get('changed') and r.get('diff')],
    }
    if failed:
        out['msg'] = '%d of %d guests failed: %s' % (len(failed), len(results), '; '.join(r['msg'] for r in failed))
    return out
