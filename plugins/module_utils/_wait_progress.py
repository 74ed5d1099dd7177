# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""What the kvm_auto_wait action knows about the jobs it waits for: which are pending, which failed,
the progress line and when to show it. Pure: the action polls and sleeps, this decides."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def format_duration(seconds):
    """``seconds`` as ``45s``, ``3m10s`` or ``1h02m``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return '%ds' % seconds
    if seconds < 3600:
        return '%dm%02ds' % (seconds // 60, seconds % 60)
    return '%dh%02dm' % (seconds // 3600, seconds % 3600 // 60)


def poll_delay(polls, interval):
    """Seconds to sleep after the ``polls``-th poll (from 1): 1, 2, 4... up to ``interval``.

    A job that ends within seconds (a rerun that changes nothing) is seen at once; a long
    one costs a few more polls than a fixed ``interval`` would.
    """
    return min(interval, 2 ** min(max(polls - 1, 0), 16))


def job_label(job, label_key='name'):
    """The name shown for a started job: its loop item, or the item's ``label_key``."""
    item = job.get('item')
    if isinstance(item, dict):
        item = item.get(label_key)
    return '%s' % (item if item is not None else job.get('ansible_job_id'))


def job_error(result):
    """The error of a finished job's result, or None when it succeeded."""
    if not (result.get('failed') or result.get('unreachable')):
        return None
    for key in ('msg', 'stderr', 'module_stderr', 'module_stdout'):
        text = ('%s' % (result.get(key) or '')).strip()
        if text:
            return text
    return 'the job failed without a message'


class WaitProgress:
    """The jobs of one wait: pending, finished (with their results), and what to tell the operator.

    ``jobs``: results of the task that started them (``ansible_job_id`` and ``item`` each); a
    result without a job id (its start was skipped) is passed through as skipped.
    ``words``: dict of ``noun`` and ``plural`` (what a job makes), ``done`` and ``pending`` (verbs).
    """

    def __init__(self, jobs, started, label_key='name', words=None, report_every=30, where=None):
        self.words = dict(noun='job', plural=None, done='finished', pending='waiting for')
        self.words.update(dict((k, v) for k, v in (words or {}).items() if v))
        self.words['plural'] = self.words['plural'] or self.words['noun'] + 's'
        self.started = started
        self.report_every = report_every
        self.where = where
        self.jobs = []
        for job in jobs:
            self.jobs.append({'jid': job.get('ansible_job_id'), 'label': job_label(job, label_key),
                              'item': job.get('item'), 'result': None})
            if self.jobs[-1]['jid'] is None:
                self.jobs[-1]['result'] = {'skipped': True, 'changed': False,
                                           'skip_reason': 'No job was started for it'}
        self.waited = [j for j in self.jobs if j['jid'] is not None]
        self._last_report = started
        self._unreported = False

    @property
    def pending(self):
        """The jobs still running, in the order they were started."""
        return [j for j in self.waited if j['result'] is None]

    def finish(self, job, result):
        """Record the final ``result`` of ``job`` (an async_status result with ``finished`` or ``failed``)."""
        job['result'] = result
        self._unreported = True

    def failures(self, timeout=None):
        """One message per failed job; with ``timeout`` (seconds waited), also one per job still running."""
        messages = []
        for job in self.waited:
            if job['result'] is not None:
                error = job_error(job['result'])
                if error:
                    messages.append('%s %s failed: %s' % (self.words['noun'], job['label'], error))
            elif timeout is not None:
                messages.append('%s %s: still %s after %s (job %s%s); it goes on running in the background'
                                % (self.words['noun'], job['label'], self.words['pending'],
                                   format_duration(timeout), job['jid'],
                                   ' on %s' % self.where if self.where else ''))
        return messages

    def line(self, now):
        """The progress line: how many are done, which are still pending, for how long."""
        done = len(self.waited) - len(self.pending)
        text = '%d of %d %s %s' % (done, len(self.waited),
                                   self.words['noun'] if len(self.waited) == 1 else self.words['plural'],
                                   self.words['done'])
        if self.where:
            text += ' on %s' % self.where
        failed = [j['label'] for j in self.waited if j['result'] is not None and job_error(j['result'])]
        if failed:
            text += ', failed: %s' % ', '.join(failed)
        if self.pending:
            text += ', still %s %s' % (self.words['pending'], ', '.join(j['label'] for j in self.pending))
        return '%s (%s)' % (text, format_duration(now - self.started))

    def report(self, now):
        """The progress line when one is due (a job finished, or ``report_every`` seconds passed), else None."""
        if not self.waited:
            return None
        if not self._unreported and now - self._last_report < self.report_every:
            return None
        self._last_report = now
        self._unreported = False
        return self.line(now)

    def results(self):
        """Every job's result with its ``item``, in the order the jobs were started (as async_status's loop)."""
        out = []
        for job in self.jobs:
            result = dict(job['result'] or {})
            result['item'] = job['item']
            out.append(result)
        return out


def unpacked(results, key):
    """The results that each job's result holds in a list under ``key`` (one per guest of a
    kvm_auto_vms job), one after the other; a job's result without that list is kept as it is."""
    out = []
    for result in results:
        nested = result.get(key)
        if isinstance(nested, list):
            out.extend(nested)
        else:
            out.append(result)
    return out


def changed_diffs(results):
    """The diffs of the changed job results as one list (a job's ``diff`` may itself be a list)."""
    out = []
    for result in results:
        diff = result.get('diff')
        if result.get('changed') and diff:
            out.extend(diff if isinstance(diff, list) else [diff])
    return out
