# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json

import libvirt
import pytest

from ansible_collections.cyris.kvm_auto.plugins.module_utils import _guest_exec as guest_exec_utils
from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_exec import (
    OUTPUT_CAP, AgentError, GuestAgent, GuestExecError, decode_output, ensure_ran, failure_message, guest_exec,
    parameter_problems, programs_digest, read_marker, run_program, wait_agent)

MARKER = '/var/lib/cyris-kvm-auto/after-clone.done'
FIRST = {'label': 'guest_settings[0] (id=srv).tasks[0].execute_program', 'argv': ['/bin/sh', '-c', 'echo one']}
SECOND = {'label': 'guest_settings[0] (id=srv).tasks[1].execute_program', 'argv': ['touch', '/tmp/two']}
PROGRAMS = [FIRST, SECOND]
# How the marker's directory is made.
MKDIR = ['mkdir', '-p', '/var/lib/cyris-kvm-auto']


def _b64(data):
    return base64.b64encode(data).decode('ascii')


class FakeClock:
    """now/sleep for the code under test: sleeping moves time on at once."""

    def __init__(self):
        self.time = 1000.0
        self.sleeps = []

    def now(self):
        return self.time

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.time += seconds


class FakeGuest:
    """A guest's agent: guest-ping, guest-exec(-status) and guest-file-* on a dict of files.

    ``outcomes`` maps an argv (tuple) to what its process does: rc, signal, out, err (bytes) and
    polls, the number of guest-exec-status answers before it exits (None: it never does).
    """

    def __init__(self, files=None, outcomes=None, answers_after=0, running=True):
        self.files = dict(files or {})
        self.outcomes = outcomes or {}
        self.answers_after = answers_after
        self.is_running = running
        self.alive = True
        self.executed = []
        self.processes = {}
        self.handles = {}

    def running(self):
        return self.is_running

    def command(self, name, arguments=None):
        if not self.alive:
            raise AgentError('%s: Guest agent is not responding: QEMU guest agent is not connected' % name)
        if name == 'guest-ping':
            if self.answers_after > 0:
                self.answers_after -= 1
                raise AgentError('guest-ping: Guest agent is not responding')
            return {}
        return getattr(self, name.replace('-', '_'))(arguments)

    def guest_exec(self, arguments):
        assert arguments['capture-output'] is True
        argv = tuple([arguments['path']] + arguments['arg'])
        outcome = dict(self.outcomes.get(argv, {}))
        if outcome.get('missing'):
            raise AgentError(u'guest-exec: internal error: Failed to execute child process \u201c%s\u201d '
                             u'(No such file or directory)' % argv[0])
        self.executed.append(list(argv))
        pid = 100 + len(self.executed)
        self.processes[pid] = outcome
        return {'pid': pid}

    def guest_exec_status(self, arguments):
        outcome = self.processes[arguments['pid']]
        polls = outcome.get('polls', 0)
        if polls is None or polls > 0:
            if polls:
                outcome['polls'] = polls - 1
            return {'exited': False}
        status = {'exited': True, 'out-data': _b64(outcome.get('out', b'')), 'err-data': _b64(outcome.get('err', b''))}
        if outcome.get('signal') is not None:
            status['signal'] = outcome['signal']
        else:
            status['exitcode'] = outcome.get('rc', 0)
        return status

    def guest_file_open(self, arguments):
        path = arguments['path']
        if arguments['mode'] == 'r' and path not in self.files:
            raise AgentError("guest-file-open: Failed to open file '%s' (mode: 'r'): No such file or directory" % path)
        if arguments['mode'] == 'w':
            self.files[path] = b''
        handle = 1000 + len(self.handles)
        self.handles[handle] = path
        return handle

    def guest_file_read(self, arguments):
        data = self.files[self.handles[arguments['handle']]][:arguments['count']]
        return {'count': len(data), 'buf-b64': _b64(data), 'eof': True}

    def guest_file_write(self, arguments):
        data = base64.b64decode(arguments['buf-b64'])
        self.files[self.handles[arguments['handle']]] += data
        return {'count': len(data), 'eof': False}

    def guest_file_close(self, arguments):
        del self.handles[arguments['handle']]
        return {}


def _ensure(guest, check_mode=False, timeout=60, agent_timeout=30, clock=None):
    clock = clock or FakeClock()
    return ensure_ran(guest, PROGRAMS, MARKER, timeout, agent_timeout, check_mode, now=clock.now, sleep=clock.sleep)


DIGEST_LINE = (programs_digest(PROGRAMS) + '\n').encode('ascii')


@pytest.mark.parametrize('marker, runs', [
    (DIGEST_LINE, False),
    (None, True),
    (b'0' * 64 + b'\n', True),
    (DIGEST_LINE.rstrip(b'\n'), True),
    (b'', True),
])
def test_the_marker_decides_whether_the_programs_run(marker, runs):
    guest = FakeGuest(files={MARKER: marker} if marker is not None else {})
    result = _ensure(guest)
    assert result['changed'] is runs
    assert guest.executed == ([FIRST['argv'], SECOND['argv'], MKDIR] if runs else [])
    assert guest.files[MARKER] == DIGEST_LINE
    assert [r['label'] for r in result['results']] == ([FIRST['label'], SECOND['label']] if runs else [])
    assert result['digest'] == programs_digest(PROGRAMS)
    assert result['diff'] == {'before': (marker or b'').decode('ascii'), 'after': DIGEST_LINE.decode('ascii'),
                              'before_header': MARKER, 'after_header': MARKER}
    assert guest.handles == {}


def test_a_second_run_runs_nothing():
    guest = FakeGuest()
    assert _ensure(guest)['changed']
    again = _ensure(guest)
    assert not again['changed'] and again['results'] == []
    assert len(guest.executed) == 3


@pytest.mark.parametrize('marker', [None, b'something else\n'])
def test_check_mode_reports_the_change_and_runs_nothing(marker):
    files = {MARKER: marker} if marker is not None else {}
    guest = FakeGuest(files=files)
    result = _ensure(guest, check_mode=True)
    assert result['changed'] and result['results'] == []
    assert guest.executed == [] and guest.files == files
    assert result['diff']['before'] == (marker or b'').decode('ascii')
    assert result['diff']['after'] == DIGEST_LINE.decode('ascii')


def test_check_mode_with_the_marker_in_place_is_no_change():
    guest = FakeGuest(files={MARKER: DIGEST_LINE})
    assert not _ensure(guest, check_mode=True)['changed']


def test_no_programs_do_nothing_and_never_reach_theFakeGuest():
    result = ensure_ran(None, [], MARKER, 60, 30, False)
    assert result == {'changed': False, 'digest': programs_digest([]), 'results': []}


def test_no_programs_need_no_libvirt(monkeypatch):
    def refuse(uri):
        raise AssertionError('connected to %s' % uri)
    monkeypatch.setattr(guest_exec_utils, 'GuestConnection', refuse)
    params = {'name': 'srv', 'uri': 'qemu:///system', 'programs': [], 'marker': MARKER,
              'timeout': 1, 'agent_timeout': 1}
    assert not guest_exec(params, False)['changed']


@pytest.mark.parametrize('outcome, message', [
    ({'rc': 3, 'err': b'line1\nno such user: bob\n', 'out': b'ignored\n'},
     "guest_settings[0] (id=srv).tasks[0].execute_program: /bin/sh -c 'echo one' exited with status 3: "
     "line1\nno such user: bob"),
    ({'rc': 1, 'out': b'only stdout\n'},
     "guest_settings[0] (id=srv).tasks[0].execute_program: /bin/sh -c 'echo one' exited with status 1: only stdout"),
    ({'rc': 2},
     "guest_settings[0] (id=srv).tasks[0].execute_program: /bin/sh -c 'echo one' exited with status 2"),
    ({'signal': 9, 'err': b'partial\n'},
     "guest_settings[0] (id=srv).tasks[0].execute_program: /bin/sh -c 'echo one' was killed by signal 9: partial"),
    ({'missing': True},
     "guest_settings[0] (id=srv).tasks[0].execute_program: cannot start /bin/sh -c 'echo one': "
     "guest-exec: internal error: "
     "Failed to execute child process \u201c/bin/sh\u201d (No such file or directory)"),
])
def test_a_failing_program_stops_the_run_without_a_marker(outcome, message):
    guest = FakeGuest(outcomes={tuple(FIRST['argv']): outcome})
    with pytest.raises(GuestExecError) as failed:
        _ensure(guest)
    assert str(failed.value) == message
    assert guest.executed == ([] if outcome.get('missing') else [FIRST['argv']])
    assert MARKER not in guest.files
    expected = [] if outcome.get('missing') else [{
        'label': FIRST['label'], 'argv': FIRST['argv'], 'rc': outcome.get('rc'), 'signal': outcome.get('signal'),
        'stdout': outcome.get('out', b'').decode(), 'stderr': outcome.get('err', b'').decode()}]
    assert failed.value.results == expected


def test_the_second_failing_returns_the_first_result_and_a_rerun_starts_again():
    guest = FakeGuest(outcomes={tuple(SECOND['argv']): {'rc': 1, 'err': b'read-only file system\n'}})
    with pytest.raises(GuestExecError) as failed:
        _ensure(guest)
    assert [r['rc'] for r in failed.value.results] == [0, 1]
    guest.outcomes = {}
    assert _ensure(guest)['changed']
    assert guest.executed == [FIRST['argv'], SECOND['argv'], FIRST['argv'], SECOND['argv'], MKDIR]


def test_a_program_that_runs_too_long_fails_with_its_label():
    clock = FakeClock()
    guest = FakeGuest(outcomes={tuple(FIRST['argv']): {'polls': None}})
    with pytest.raises(GuestExecError) as failed:
        _ensure(guest, timeout=20, clock=clock)
    assert str(failed.value) == ('%s: still running after 20 s (pid 101 in the guest; the guest agent cannot stop it)'
                                 % FIRST['label'])
    assert failed.value.results == []
    assert MARKER not in guest.files and guest.executed == [FIRST['argv']]
    # Polls start short and grow to every 2 s.
    assert clock.sleeps[:7] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert 20 <= clock.time - 1000 < 22


def test_a_slow_program_is_waited_for():
    clock = FakeClock()
    guest = FakeGuest(outcomes={('sleep', '5'): {'polls': 4, 'out': b'done\n'}})
    result = run_program(guest, ['sleep', '5'], 60, now=clock.now, sleep=clock.sleep)
    assert result == {'argv': ['sleep', '5'], 'rc': 0, 'signal': None, 'stdout': 'done\n', 'stderr': ''}
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8]


def test_a_failed_marker_directory_fails_naming_it():
    guest = FakeGuest(outcomes={tuple(MKDIR): {'rc': 1, 'err': b'mkdir: Permission denied\n'}})
    with pytest.raises(GuestExecError) as failed:
        _ensure(guest)
    assert str(failed.value) == ('cannot make the directory /var/lib/cyris-kvm-auto of the marker: '
                                 'mkdir: Permission denied')
    assert len(failed.value.results) == 2 and MARKER not in guest.files


@pytest.mark.parametrize('data, cap, text', [
    (b'', OUTPUT_CAP, ''),
    (b'caf\xc3\xa9\n', OUTPUT_CAP, u'caf\u00e9\n'),
    (b'bad \xff byte', OUTPUT_CAP, u'bad \ufffd byte'),
    (b'0123456789', 4, '6789'),
    # A cut through a multi-byte character leaves one replacement character.
    (b'x\xc3\xa9y', 2, u'\ufffdy'),
    (b'a' * (OUTPUT_CAP + 10) + b'end', OUTPUT_CAP, 'a' * (OUTPUT_CAP - 3) + 'end'),
])
def test_output_is_decoded_and_capped_to_its_end(data, cap, text):
    assert decode_output(_b64(data), cap) == text


def test_missing_output_is_empty():
    assert decode_output(None) == ''


@pytest.mark.parametrize('stderr, stdout, tail', [
    ('\n'.join('err %d' % n for n in range(30)) + '\n', 'out', '\n'.join('err %d' % n for n in range(10, 30))),
    ('  \n', 'out 1\nout 2\n', 'out 1\nout 2'),
    ('x' * 5000, '', 'x' * 2000),
])
def test_a_failure_message_quotes_the_end_of_the_output(stderr, stdout, tail):
    result = {'argv': ['prog'], 'rc': 1, 'signal': None, 'stdout': stdout, 'stderr': stderr}
    assert failure_message('L', result) == 'L: prog exited with status 1: ' + tail


def test_success_is_no_failure():
    assert failure_message('L', {'argv': ['prog'], 'rc': 0, 'signal': None, 'stdout': '', 'stderr': 'warn'}) is None


def test_the_digest_is_canonical_json_of_the_argv_lists():
    expected = hashlib.sha256(b'[["/bin/sh","-c","echo one"],["touch","/tmp/two"]]').hexdigest()
    assert programs_digest(PROGRAMS) == expected


@pytest.mark.parametrize('other, same', [
    ([dict(FIRST, label='renamed'), SECOND], True),
    ([{'argv': ('/bin/sh', '-c', 'echo one'), 'label': 'a'}, SECOND], True),
    ([SECOND, FIRST], False),
    ([FIRST], False),
    ([{'argv': ['/bin/sh', '-c echo one'], 'label': 'a'}, SECOND], False),
    ([FIRST, SECOND, SECOND], False),
])
def test_the_digest_follows_the_argv_lists_and_their_order(other, same):
    assert (programs_digest(other) == programs_digest(PROGRAMS)) is same


def test_the_agent_is_waited_for():
    clock = FakeClock()
    guest = FakeGuest(answers_after=3)
    wait_agent(guest, 30, now=clock.now, sleep=clock.sleep)
    assert clock.sleeps == [2, 2, 2]


@pytest.mark.parametrize('running, message', [
    (True, 'qemu-guest-agent did not answer guest-ping within agent_timeout=10 s: '
           'guest-ping: Guest agent is not responding'),
    (False, 'the guest stopped before its qemu-guest-agent answered'),
])
def test_an_agent_that_never_answers_fails(running, message):
    clock = FakeClock()
    guest = FakeGuest(answers_after=1000, running=running)
    with pytest.raises(GuestExecError) as failed:
        wait_agent(guest, 10, now=clock.now, sleep=clock.sleep)
    assert str(failed.value) == message


def test_a_dead_agent_is_not_taken_for_a_missing_marker():
    guest = FakeGuest(files={MARKER: DIGEST_LINE})
    guest.alive = False
    with pytest.raises(GuestExecError) as failed:
        read_marker(guest, MARKER)
    assert str(failed.value).startswith(
        'qemu-guest-agent stopped answering while reading the marker %s: guest-ping:' % MARKER)


def test_an_unreadable_marker_is_not_run():
    guest = FakeGuest(files={'/other': b'x'})
    assert read_marker(guest, MARKER) is None


@pytest.mark.parametrize('params, problems', [
    ({}, []),
    ({'programs': [dict(FIRST, argv=[]), SECOND, dict(SECOND, argv=[])]},
     ['programs[0] (%s): argv is empty' % FIRST['label'], 'programs[2] (%s): argv is empty' % SECOND['label']]),
    ({'marker': 'after-clone.done', 'timeout': -1},
     ['marker after-clone.done is not an absolute path', 'timeout must be at least 0, not -1']),
])
def test_parameter_problems_are_reported_together(params, problems):
    base = {'programs': PROGRAMS, 'marker': MARKER, 'timeout': 60, 'agent_timeout': 30}
    assert parameter_problems(dict(base, **params)) == problems


class FakeDomain:
    def __init__(self, active=True):
        self.active = active

    def isActive(self):
        return self.active


@pytest.mark.parametrize('arguments, request_json', [
    (None, {'execute': 'guest-ping'}),
    ({'pid': 7}, {'execute': 'guest-exec-status', 'arguments': {'pid': 7}}),
])
def test_the_agent_sends_json_and_returns_the_answer(monkeypatch, arguments, request_json):
    sent = []

    def command(dom, text, timeout, flags):
        sent.append((json.loads(text), flags))
        return json.dumps({'return': {'exited': True}})
    monkeypatch.setattr(guest_exec_utils.libvirt_qemu, 'qemuAgentCommand', command)
    name = request_json['execute']
    assert GuestAgent(FakeDomain()).command(name, arguments) == {'exited': True}
    assert sent == [(request_json, 0)]


def test_the_agent_turns_libvirt_errors_into_agent_errors(monkeypatch):
    def command(dom, text, timeout, flags):
        raise libvirt.libvirtError('Guest agent is not responding: QEMU guest agent is not connected')
    monkeypatch.setattr(guest_exec_utils.libvirt_qemu, 'qemuAgentCommand', command)
    with pytest.raises(AgentError) as failed:
        GuestAgent(FakeDomain()).command('guest-ping')
    assert str(failed.value) == 'guest-ping: Guest agent is not responding: QEMU guest agent is not connected'


# ---------------------------------------------------------------- files, and programs run in another guest

CAPTURE_PATH = '/home/trainee/traffic.pcap'
CAPTURE_BYTES = bytes(range(256)) * 500
CAPTURE = {'label': 'guest_settings[0] (id=srv).tasks[2].emulate_traffic_capture_file[0]',
           'file': {'path': CAPTURE_PATH, 'content': _b64(CAPTURE_BYTES), 'mode': '0644'}}
ATTACK = {'label': 'guest_settings[0] (id=srv).tasks[1].emulate_attack[0]', 'guest': 'fw_cr77_1_1',
          'argv': ['/bin/sh', '-c', 'for i in 1 2; do ssh x; done', 'emulate_attack']}


def test_a_file_is_written_in_chunks_with_its_directory_and_mode():
    guest = FakeGuest()
    result = ensure_ran(guest, [CAPTURE], MARKER, 60, 30, False)
    assert guest.files[CAPTURE_PATH] == CAPTURE_BYTES
    assert guest.executed == [['mkdir', '-p', '/home/trainee'], ['chmod', '0644', CAPTURE_PATH], MKDIR]
    assert result['results'] == [{'label': CAPTURE['label'], 'path': CAPTURE_PATH, 'size': len(CAPTURE_BYTES),
                                  'mode': '0644'}]
    assert guest.handles == {}


def test_a_program_for_the_guest_runs_in_the_other_guest_and_the_marker_stays_here():
    guest, attacker = FakeGuest(answers_after=1), FakeGuest(answers_after=2)
    clock = FakeClock()
    result = ensure_ran(guest, [FIRST, ATTACK], MARKER, 60, 30, False, agents={'fw_cr77_1_1': attacker}.get,
                        now=clock.now, sleep=clock.sleep)
    assert attacker.executed == [ATTACK['argv']] and attacker.files == {}
    assert guest.executed == [FIRST['argv'], MKDIR] and MARKER in guest.files
    assert result['results'][1]['guest'] == 'fw_cr77_1_1'
    # Both agents were waited for.
    assert clock.sleeps == [2, 2, 2]


def test_a_failure_in_the_other_guest_names_it():
    attacker = FakeGuest(outcomes={tuple(ATTACK['argv']): {'rc': 1, 'err': b'sshd on 77.1.2.2 did not answer\n'}})
    with pytest.raises(GuestExecError) as failed:
        ensure_ran(FakeGuest(), [ATTACK], MARKER, 60, 30, False, agents={'fw_cr77_1_1': attacker}.get)
    assert str(failed.value) == ("%s: in guest fw_cr77_1_1: /bin/sh -c 'for i in 1 2; do ssh x; done' emulate_attack "
                                 "exited with status 1: sshd on 77.1.2.2 did not answer" % ATTACK['label'])


def test_a_long_word_is_shown_by_its_length():
    result = {'argv': ['/bin/sh', '-c', 'x' * 1000], 'rc': 2, 'signal': None, 'stdout': '', 'stderr': ''}
    assert failure_message('L', result) == 'L: /bin/sh -c <1000 characters> exited with status 2'


@pytest.mark.parametrize('change, same', [
    ({}, True),
    ({'label': 'renamed'}, True),
    ({'file': dict(CAPTURE['file'], content=_b64(CAPTURE_BYTES[1:]))}, False),
    ({'file': dict(CAPTURE['file'], mode='0600')}, False),
    ({'file': dict(CAPTURE['file'], path='/tmp/traffic.pcap')}, False),
])
def test_the_digest_follows_a_file_content_path_and_mode(change, same):
    assert (programs_digest([dict(CAPTURE, **change)]) == programs_digest([CAPTURE])) is same


def test_the_digest_follows_the_guest_a_program_runs_in():
    assert programs_digest([ATTACK]) != programs_digest([dict(ATTACK, guest='pc_cr77_1_1')])
    assert programs_digest([ATTACK]) != programs_digest([dict(ATTACK, guest=None)])


@pytest.mark.parametrize('program, problem', [
    (dict(CAPTURE, argv=['true']), 'file and argv exclude each other'),
    (dict(CAPTURE, file=dict(CAPTURE['file'], path='traffic.pcap')), 'file.path traffic.pcap is not the absolute'),
    (dict(CAPTURE, file=dict(CAPTURE['file'], mode='rw-r--r--')), 'file.mode rw-r--r-- is not an octal mode'),
    (dict(CAPTURE, file=dict(CAPTURE['file'], content='not base64!')), 'file.content is not base64'),
    (dict(ATTACK, guest='srv_cr77_1_1'), 'guest srv_cr77_1_1 is the guest itself: leave guest out'),
])
def test_entry_problems(program, problem):
    params = {'name': 'srv_cr77_1_1', 'programs': [program], 'marker': MARKER, 'timeout': 60, 'agent_timeout': 30}
    problems = parameter_problems(params)
    assert len(problems) == 1 and problems[0].startswith('programs[0] (%s): %s' % (program['label'], problem))
