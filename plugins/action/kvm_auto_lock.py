# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Take or release the lock of a range, waiting while another run holds it.

The documentation is in plugins/modules/kvm_auto_lock.py; the lock itself (taking, releasing,
who holds it, when a holder is gone, the messages) is in plugins/module_utils/_range_lock.py.
The module makes one attempt on the task's host each time; this plugin works out the run's
owner on the controller, decides there whether a holder's run is gone, and waits.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import multiprocessing
import os
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _range_lock as lock

display = Display()

MODULE = 'cyris.kvm_auto.kvm_auto_lock'


def run_pid():
    """The pid of the ansible-playbook process running this task.

    ansible-core (checked with 2.19 and 2.21) runs an action plugin in a worker process forked
    from that process for each task, so the worker's parent is the run; without a parent (the
    plugin called in the main process itself) this process is the run.
    """
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None else os.getpid()


class ActionModule(ActionBase):
    """Calls the module until it holds the lock, the holder is gone, or the timeout has passed."""

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=lock.TASK_ARGUMENT_SPEC,
                                                  required_if=lock.TASK_REQUIRED_IF)
        if args['timeout'] < 0 or args['poll_interval'] < 1:
            return dict(result, failed=True, msg='%s: timeout must be 0 or more and poll_interval 1 or more, not %d and %d'
                        % (args['resource'], args['timeout'], args['poll_interval']))
        owner = lock.controller_owner(run_pid(), args['operation'])
        # An option left out stays out: the module would check None against its choices.
        module_args = dict(((name, value) for name, value in args.items() if value is not None), owner=owner)
        if args['state'] == 'absent':
            return self._release(result, module_args, task_vars)
        return self._take(result, module_args, task_vars)

    def _release(self, result, module_args, task_vars):
        attempt = self._attempt(module_args, task_vars)
        if attempt.get('failed'):
            return dict(result, **attempt)
        result.update(changed=attempt['changed'])
        if attempt.get('holder'):
            result.update(holder=attempt['holder'])
            result.setdefault('warnings', []).append('%s: the lock %s is held by %s: left in place' % (
                module_args['resource'], module_args['path'], lock.describe(attempt['holder'])))
        return result

    def _take(self, result, module_args, task_vars):
        owner, path, resource = module_args['owner'], module_args['path'], module_args['resource']
        started = time.monotonic()
        gone_holder = shown = None
        while True:
            attempt = self._attempt(dict(module_args, takeover=gone_holder), task_vars)
            waited = int(time.monotonic() - started)
            if attempt.get('failed'):
                return dict(result, **attempt)
            holder = attempt.get('holder')
            if attempt['taken']:
                result.update(changed=attempt['changed'], owner=owner, waited=waited)
                if holder:
                    result.update(replaced=holder)
                    result.setdefault('warnings', []).append(lock.takeover_message(resource, holder, path))
                return result
            if holder is None:
                gone_holder = None  # released between two readings: try again at once
                continue
            gone = lock.holder_is_gone(holder, owner)
            if self._play_context.check_mode:
                result.update(changed=True, holder=holder, waited=0)
                result.setdefault('warnings', []).append(lock.check_mode_message(resource, holder, path, gone))
                return result
            # A gone holder whose lock the module did not replace is waited for like any other.
            if gone and not (gone_holder and lock.same_holder(gone_holder, holder)):
                gone_holder = holder
                continue
            gone_holder = None
            if waited >= module_args['timeout']:
                return dict(result, failed=True, holder=holder, waited=waited,
                            msg=lock.held_message(resource, holder, path, waited if module_args['timeout'] else None))
            if shown is None or not lock.same_holder(shown, holder):
                display.display(lock.waiting_message(resource, holder, path))
                shown = holder
            time.sleep(min(module_args['poll_interval'], module_args['timeout'] - waited))

    def _attempt(self, module_args, task_vars):
        """One run of the module on the task's host: take (or release) the lock, or say who holds it."""
        return self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
