# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What kvm_auto_wait knows about its jobs: pending, failed, the progress line and when to show it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils._wait_progress import (
    WaitProgress, changed_diffs, format_duration, job_error, job_label, poll_delay, unpacked)

IMAGE_WORDS = {'noun': 'image', 'done': 'built', 'pending': 'building'}


def _jobs(*names):
    return [{'ansible_job_id': 'j%d' % n, 'item': name, 'started': 1, 'finished': 0} for n, name in enumerate(names)]


@pytest.mark.parametrize('seconds, text', [
    (0, '0s'), (0.9, '0s'), (45, '45s'), (60, '1m00s'), (190, '3m10s'), (3599, '59m59s'), (3600, '1h00m'),
    (3723, '1h02m'), (-3, '0s'),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize('job, key, label', [
    ({'item': 'kvmauto-x', 'ansible_job_id': 'j1'}, 'name', 'kvmauto-x'),
    ({'item': {'name': 'web-1-1', 'inventory_host': 'kvm1'}, 'ansible_job_id': 'j1'}, 'name', 'web-1-1'),
    ({'item': {'guest': 'web'}, 'ansible_job_id': 'j1'}, 'guest', 'web'),
    ({'ansible_job_id': 'j1'}, 'name', 'j1'),
])
def test_job_label(job, key, label):
    assert job_label(job, key) == label


@pytest.mark.parametrize('result, error', [
    ({'finished': True, 'changed': True}, None),
    ({'finished': True, 'failed': True, 'msg': 'web: no template debian-13'}, 'web: no template debian-13'),
    ({'finished': True, 'failed': True, 'msg': '', 'stderr': 'Traceback ...'}, 'Traceback ...'),
    ({'finished': True, 'failed': True, 'module_stdout': 'garbage'}, 'garbage'),
    ({'failed': True}, 'the job failed without a message'),
    ({'unreachable': True, 'msg': 'ssh: no route'}, 'ssh: no route'),
])
def test_job_error(result, error):
    assert job_error(result) == error


def test_progress_line_names_the_pending_jobs_and_the_time():
    progress = WaitProgress(_jobs('a', 'b', 'kvmauto-x'), started=100, words=IMAGE_WORDS)
    progress.finish(progress.pending[0], {'finished': True})
    progress.finish(progress.pending[0], {'finished': True})
    assert progress.line(290) == '2 of 3 images built, still building kvmauto-x (3m10s)'


@pytest.mark.parametrize('words, where, line', [
    ({'noun': 'image', 'done': 'built', 'pending': 'building'}, None, '0 of 1 image built, still building a (5s)'),
    ({'noun': 'guest', 'done': 'running', 'pending': 'booting'}, 'kvm1',
     '0 of 1 guest running on kvm1, still booting a (5s)'),
    ({}, None, '0 of 1 job finished, still waiting for a (5s)'),
])
def test_progress_line_words(words, where, line):
    assert WaitProgress(_jobs('a'), started=0, words=words, where=where).line(5) == line


def test_progress_line_plural_and_failures():
    progress = WaitProgress(_jobs('a', 'b'), started=0, words={'noun': 'ox', 'plural': 'oxen', 'done': 'fed'})
    progress.finish(progress.pending[0], {'finished': True, 'failed': True, 'msg': 'boom'})
    progress.finish(progress.pending[0], {'finished': True})
    assert progress.line(1) == '2 of 2 oxen fed, failed: a (1s)'


def test_report_when_a_job_finishes_or_the_interval_passes():
    progress = WaitProgress(_jobs('a', 'b'), started=0, words=IMAGE_WORDS, report_every=30)
    assert progress.report(10) is None
    assert progress.report(30) == '0 of 2 images built, still building a, b (30s)'
    assert progress.report(45) is None
    progress.finish(progress.pending[0], {'finished': True})
    assert progress.report(46) == '1 of 2 images built, still building b (46s)'
    assert progress.report(70) is None
    assert progress.report(76) == '1 of 2 images built, still building b (1m16s)'


def test_nothing_to_report_without_jobs():
    progress = WaitProgress([{'item': 'a', 'skipped': True}], started=0, words=IMAGE_WORDS)
    assert progress.pending == []
    assert progress.report(100) is None


def test_results_keep_the_order_and_the_items_and_pass_skipped_starts_through():
    guest = {'name': 'web-1-1', 'inventory_host': 'kvm1'}
    jobs = [{'item': 'pending-guest', 'skipped': True}, {'ansible_job_id': 'j1', 'item': guest}]
    progress = WaitProgress(jobs, started=0)
    progress.finish(progress.pending[0], {'finished': True, 'changed': True, 'name': 'web-1-1'})
    assert progress.results() == [
        {'skipped': True, 'changed': False, 'skip_reason': 'No job was started for it', 'item': 'pending-guest'},
        {'finished': True, 'changed': True, 'name': 'web-1-1', 'item': guest},
    ]


def test_failures_name_the_job_and_its_error():
    progress = WaitProgress(_jobs('web', 'db'), started=0, words=IMAGE_WORDS)
    progress.finish(progress.pending[0], {'finished': True, 'failed': True, 'msg': 'virt-builder: error: no space'})
    assert progress.failures() == ['image web failed: virt-builder: error: no space']


def test_failures_after_a_timeout_name_the_jobs_still_running():
    progress = WaitProgress(_jobs('web', 'db'), started=0, words={'noun': 'guest', 'pending': 'booting'}, where='kvm1')
    progress.finish(progress.pending[0], {'finished': True})
    assert progress.failures(timeout=960) == [
        'guest db: still booting after 16m00s (job j1 on kvm1); it goes on running in the background']


@pytest.mark.parametrize('results, names', [
    ([{'guests': [{'name': 'a'}, {'name': 'b'}]}, {'guests': [{'name': 'c'}]}], ['a', 'b', 'c']),
    # Not started, or failed before it made anything: the job's own result stays.
    ([{'skipped': True, 'name': 'job1'}, {'failed': True, 'name': 'job2'}, {'guests': []}], ['job1', 'job2']),
    ([], []),
])
def test_unpacked_gives_each_jobs_own_results(results, names):
    assert [r['name'] for r in unpacked(results, 'guests')] == names


@pytest.mark.parametrize('results, diffs', [
    ([{'changed': True, 'diff': [{'before_header': 'a'}, {'before_header': 'b'}]}, {'changed': True, 'diff': {'before': 1}}],
     [{'before_header': 'a'}, {'before_header': 'b'}, {'before': 1}]),
    ([{'changed': False, 'diff': [{'before': 1}]}, {'changed': True, 'diff': []}, {'changed': True}], []),
])
def test_changed_diffs_are_one_list(results, diffs):
    assert changed_diffs(results) == diffs


@pytest.mark.parametrize('interval, delays', [
    (10, [1, 2, 4, 8, 10, 10]),
    (5, [1, 2, 4, 5, 5, 5]),
    (1, [1, 1, 1, 1, 1, 1]),
])
def test_the_first_polls_come_sooner(interval, delays):
    assert [poll_delay(polls, interval) for polls in range(1, 7)] == delays
