# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Wait for asynchronous jobs with ansible.builtin.async_status, showing what is still pending.

The documentation is in plugins/modules/kvm_auto_wait.py; the decisions (pending, failed, the
progress line and when to show it) are in plugins/module_utils/_wait_progress.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.cyris.kvm_auto.plugins.module_utils._wait_progress import WaitProgress, changed_diffs, poll_delay, unpacked

display = Display()

ARGUMENT_SPEC = {
    'jobs': {'type': 'list', 'elements': 'dict', 'required': True},
    'label_key': {'type': 'str', 'default': 'name'},
    'host': {'type': 'str'},
    'noun': {'type': 'str', 'default': 'job'},
    'plural': {'type': 'str'},
    'done': {'type': 'str', 'default': 'finished'},
    'pending': {'type': 'str', 'default': 'waiting for'},
    'timeout': {'type': 'int', 'default': 3600},
    'poll_interval': {'type': 'int', 'default': 5},
    'report_interval': {'type': 'int', 'default': 30},
    'results_key': {'type': 'str'},
}


def select_jobs(jobs, host=None):
    """The started jobs to wait for here: all, or those whose item's ``inventory_host`` is ``host``."""
    if host is None:
        return list(jobs)
    return [j for j in jobs if isinstance(j.get('item'), dict) and j['item'].get('inventory_host') == host]


class ActionModule(ActionBase):
    """Polls each pending job on the task's host (its delegation applies) until all have finished."""

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        started = time.monotonic()
        progress = WaitProgress(
            select_jobs(args['jobs'], args['host']), started, label_key=args['label_key'],
            words={'noun': args['noun'], 'plural': args['plural'], 'done': args['done'], 'pending': args['pending']},
            report_every=args['report_interval'], where=args['host'])
        timed_out = None
        polls = 0
        while progress.pending:
            polls += 1
            for job in progress.pending:
                status = self._job_status(job['jid'], task_vars)
                if status.get('finished') or status.get('failed'):
                    progress.finish(job, status)
            now = time.monotonic()
            line = progress.report(now)
            if line:
                display.display(line)
            if not progress.pending:
                break
            if now - started >= args['timeout']:
                timed_out = args['timeout']
                break
            time.sleep(poll_delay(polls, args['poll_interval']))
        results = progress.results()
        result.update(changed=any(r.get('changed') for r in results), failed=False)
        diffs = changed_diffs(results)
        if diffs:
            result['diff'] = diffs
        result['results'] = unpacked(results, args['results_key']) if args['results_key'] else results
        failures = progress.failures(timeout=timed_out)
        if failures:
            result.update(failed=True, msg='; '.join(failures))
        return result

    def _job_status(self, jid, task_vars):
        """ansible.builtin.async_status of one job, through this task's connection."""
        task = self._task.copy()
        task.args = {'jid': jid}
        status = self._shared_loader_obj.action_loader.get(
            'ansible.builtin.async_status', task=task, connection=self._connection,
            play_context=self._play_context, loader=self._loader, templar=self._templar,
            shared_loader_obj=self._shared_loader_obj)
        return status.run(task_vars=task_vars)
