# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""kvm_auto_guest_exec: run programs in a guest through its qemu-guest-agent, once per guest disk.

Each entry of ``programs`` is a program run in the guest (``argv``), a program run for it in another
guest of the same libvirt host (``argv`` and ``guest``: an attack against it), or a file written in
it (``file``).  A marker file in the guest holds the digest of the entries that ran; it goes with the
guest's disk, so a guest whose disk was recreated runs them again.  Everything but ``GuestAgent`` and
``GuestConnection`` takes an agent (anything with ``command(name, arguments)`` and ``running()``),
so the tests use a fake guest instead of libvirt.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import posixpath
import re
import shlex
import time
import traceback

from ansible_collections.cyris.kvm_auto.plugins.module_utils._libvirt_common import (
    LIBVIRT_IMPORT_ERROR, LibvirtConnection, libvirt)

try:
    import libvirt_qemu
except ImportError:
    LIBVIRT_IMPORT_ERROR = LIBVIRT_IMPORT_ERROR or traceback.format_exc()

# Each result keeps the end of its output: what explains a failure is at the end.
OUTPUT_CAP = 64 * 1024
# The end of a failed program's output that its message quotes.
MESSAGE_LINES = 20
MESSAGE_CHARS = 2000
# Seconds one agent command may take (guest-exec returns at once; the program runs on).
_COMMAND_TIMEOUT = 10
# Polls of a running program: short at first (most are quick), then every 2 s.
_FIRST_POLL = 0.1
_LONGEST_POLL = 2.0
# Seconds between two guest-pings while the agent does not answer yet.
_PING_INTERVAL = 2
# Bytes of the marker read at most: a longer file is no marker of ours.
_MARKER_READ = 4096
# Bytes of a file written per guest-file-write (its base64 is a third more).
_WRITE_CHUNK = 48 * 1024
# Words of a command line longer than this are shown by their length in messages (a whole script).
_LONGEST_WORD = 200


class GuestExecError(Exception):
    """What failed, for the message; ``results`` holds the programs that ran until then."""

    def __init__(self, message, results=None):
        super(GuestExecError, self).__init__(message)
        self.results = results or []


class AgentError(GuestExecError):
    """The agent, or libvirt talking to it, refused a command; the message is theirs."""


class GuestNotRunning(GuestExecError):
    """The domain does not exist or is not running (in check mode: not created yet)."""


class GuestAgent:
    """The qemu-guest-agent of one libvirt domain; every failure raises AgentError."""

    def __init__(self, dom):
        self.dom = dom

    def command(self, name, arguments=None):
        """The ``return`` of agent command ``name`` with ``arguments``."""
        request = {'execute': name}
        if arguments is not None:
            request['arguments'] = arguments
        try:
            answer = libvirt_qemu.qemuAgentCommand(self.dom, json.dumps(request), _COMMAND_TIMEOUT, 0)
        except libvirt.libvirtError as exc:
            raise AgentError('%s: %s' % (name, exc))
        return json.loads(answer).get('return')

    def running(self):
        try:
            return bool(self.dom.isActive())
        except libvirt.libvirtError as exc:
            raise GuestExecError('cannot read the domain state from libvirt: %s' % exc)


class GuestConnection(LibvirtConnection):
    """The libvirt connection the module opens; ``agent`` finds the running domain."""

    error = GuestExecError

    def agent(self, name):
        """The GuestAgent of the running domain ``name``; GuestExecError when it is missing or stopped."""
        try:
            dom = self.conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise GuestNotRunning('there is no libvirt domain of this name at %s' % self.uri)
            raise GuestExecError('cannot look up the domain in libvirt: %s' % exc)
        agent = GuestAgent(dom)
        if not agent.running():
            raise GuestNotRunning('the domain is not running: start it first')
        return agent


def _digest_entry(program):
    """What of one entry the digest covers: a program in the guest by its argv list alone (as markers
    written before the other kinds existed say), the others with their guest or their file's content."""
    if program.get('file'):
        spec = program['file']
        return {'file': spec['path'], 'mode': spec['mode'],
                'sha256': hashlib.sha256(base64.b64decode(spec['content'])).hexdigest()}
    if program.get('guest'):
        return {'argv': list(program['argv']), 'guest': program['guest']}
    return list(program['argv'])


def programs_digest(programs):
    """sha256 (hex) of the entries in order (see _digest_entry), as canonical JSON; labels do not count."""
    canonical = json.dumps([_digest_entry(program) for program in programs], separators=(',', ':'),
                           ensure_ascii=True, sort_keys=True)
    return hashlib.sha256(canonical.encode('utf-8')).hexdigest()


def decode_output(data, cap=OUTPUT_CAP):
    """Text of the agent's base64 ``data``, its last ``cap`` bytes, as utf-8 with replacement."""
    raw = base64.b64decode(data or '')
    return raw[-cap:].decode('utf-8', 'replace')


def output_tail(text, lines=MESSAGE_LINES, chars=MESSAGE_CHARS):
    """The last ``lines`` lines of ``text``, at most ``chars`` characters, for a message."""
    tail = '\n'.join(text.strip().splitlines()[-lines:])
    return tail[-chars:]


def command_line(argv):
    return ' '.join(shlex.quote(word) if len(word) <= _LONGEST_WORD else '<%d characters>' % len(word)
                    for word in argv)


def wait_agent(agent, timeout, now=time.monotonic, sleep=time.sleep):
    """Return once the agent answers guest-ping; GuestExecError after ``timeout`` s or when the guest stops."""
    deadline = now() + timeout
    last_error = None
    while True:
        try:
            agent.command('guest-ping')
            return
        except AgentError as exc:
            last_error = exc
        if not agent.running():
            raise GuestExecError('the guest stopped before its qemu-guest-agent answered')
        if now() >= deadline:
            raise GuestExecError('qemu-guest-agent did not answer guest-ping within agent_timeout=%d s: %s'
                                 % (timeout, last_error))
        sleep(_PING_INTERVAL)


def _on_file(agent, path, mode, name, arguments):
    """The agent's answer to ``name`` (guest-file-read or -write) on ``path`` opened with ``mode``, closed after."""
    handle = agent.command('guest-file-open', {'path': path, 'mode': mode})
    try:
        return agent.command(name, dict(arguments, handle=handle))
    finally:
        agent.command('guest-file-close', {'handle': handle})


def read_marker(agent, path):
    """The marker's content, or None when the agent cannot read it (missing, unreadable).

    A failed read is taken for "not run" only while the agent still answers guest-ping: a dead
    agent raises, rather than running every program again.
    """
    try:
        read = _on_file(agent, path, 'r', 'guest-file-read', {'count': _MARKER_READ})
    except AgentError as read_error:
        try:
            agent.command('guest-ping')
        except AgentError as exc:
            raise GuestExecError('qemu-guest-agent stopped answering while reading the marker %s: %s (%s)'
                                 % (path, exc, read_error))
        return None
    return decode_output(read.get('buf-b64'))


def write_marker(agent, path, content):
    """Make the marker's directory and write ``content`` to the marker, through the agent."""
    directory = posixpath.dirname(path)
    if directory:
        made = run_program(agent, ['mkdir', '-p', directory], _COMMAND_TIMEOUT)
        if made['rc'] != 0:
            raise GuestExecError('cannot make the directory %s of the marker: %s'
                                 % (directory, output_tail(made['stderr'] or made['stdout'])))
    data = content.encode('utf-8')
    buf = base64.b64encode(data).decode('ascii')
    try:
        written = _on_file(agent, path, 'w', 'guest-file-write', {'buf-b64': buf})
    except AgentError as exc:
        raise GuestExecError('cannot write the marker %s: %s' % (path, exc))
    if written.get('count') != len(data):
        raise GuestExecError('cannot write the marker %s: %s of %d bytes written'
                             % (path, written.get('count'), len(data)))


def write_file(agent, path, data, mode):
    """Make the directory of ``path`` and write ``data`` (bytes) there with ``mode`` (octal text)."""
    made = run_program(agent, ['mkdir', '-p', posixpath.dirname(path)], _COMMAND_TIMEOUT)
    if made['rc'] != 0:
        raise GuestExecError('cannot make the directory of %s: %s' % (path, output_tail(made['stderr'] or made['stdout'])))
    try:
        handle = agent.command('guest-file-open', {'path': path, 'mode': 'w'})
    except AgentError as exc:
        raise GuestExecError('cannot write %s: %s' % (path, exc))
    try:
        for start in range(0, len(data), _WRITE_CHUNK):
            chunk = data[start:start + _WRITE_CHUNK]
            written = agent.command('guest-file-write', {'handle': handle, 'buf-b64': base64.b64encode(chunk).decode('ascii')})
            if written.get('count') != len(chunk):
                raise GuestExecError('cannot write %s: %s of %d bytes written' % (path, written.get('count'), len(chunk)))
    except AgentError as exc:
        raise GuestExecError('cannot write %s: %s' % (path, exc))
    finally:
        agent.command('guest-file-close', {'handle': handle})
    changed = run_program(agent, ['chmod', mode, path], _COMMAND_TIMEOUT)
    if changed['rc'] != 0:
        raise GuestExecError('cannot set the mode of %s: %s' % (path, output_tail(changed['stderr'] or changed['stdout'])))
    return {'path': path, 'size': len(data), 'mode': mode}


def run_program(agent, argv, timeout, now=time.monotonic, sleep=time.sleep):
    """Run ``argv`` in the guest and wait for it: {argv, rc, signal, stdout, stderr}.

    ``rc`` is None when a signal ended it; GuestExecError when it still runs after ``timeout`` s.
    """
    try:
        pid = agent.command('guest-exec', {'path': argv[0], 'arg': list(argv[1:]), 'capture-output': True})['pid']
    except AgentError as exc:
        raise GuestExecError('cannot start %s: %s' % (command_line(argv), exc))
    deadline = now() + timeout
    delay = _FIRST_POLL
    while True:
        status = agent.command('guest-exec-status', {'pid': pid})
        if status.get('exited'):
            break
        if now() >= deadline:
            raise GuestExecError('still running after %d s (pid %d in the guest; the guest agent cannot stop it)'
                                 % (timeout, pid))
        sleep(delay)
        delay = min(delay * 2, _LONGEST_POLL)
    return {
        'argv': list(argv),
        'rc': status.get('exitcode'),
        'signal': status.get('signal'),
        'stdout': decode_output(status.get('out-data')),
        'stderr': decode_output(status.get('err-data')),
    }


def failure_message(label, result):
    """``LABEL: ARGV exited with status N: TAIL`` for a program that failed, or None when it succeeded."""
    if result['signal'] is not None:
        how = 'was killed by signal %d' % result['signal']
    elif result['rc'] != 0:
        how = 'exited with status %d' % result['rc']
    else:
        return None
    message = '%s: %s %s' % (label, command_line(result['argv']), how)
    tail = output_tail(result['stderr']) or output_tail(result['stdout'])
    return '%s: %s' % (message, tail) if tail else message


def _run_entry(agent, program, timeout, agent_timeout, agents, now, sleep):
    """Run one entry of ``programs``: its result for RV(results), and its failure message or None."""
    if program.get('file'):
        spec = program['file']
        written = write_file(agent, spec['path'], base64.b64decode(spec['content']), spec['mode'])
        return dict(written, label=program['label']), None
    where = agent
    if program.get('guest'):
        where = agents(program['guest'])
        wait_agent(where, agent_timeout, now=now, sleep=sleep)
    ran = run_program(where, program['argv'], timeout, now=now, sleep=sleep)
    result = {'label': program['label'], 'argv': ran['argv'], 'rc': ran['rc'], 'signal': ran['signal'],
              'stdout': ran['stdout'], 'stderr': ran['stderr']}
    if program.get('guest'):
        result['guest'] = program['guest']
    message = failure_message(program['label'], ran)
    if message and program.get('guest'):
        message = message.replace(program['label'] + ': ', '%s: in guest %s: ' % (program['label'], program['guest']), 1)
    return result, message


def ensure_ran(agent, programs, marker, timeout, agent_timeout, check_mode, agents=None, now=time.monotonic,
               sleep=time.sleep):
    """Run ``programs`` unless the marker says they ran; the module's result, or GuestExecError.

    ``agents(name)``: the agent of another guest, for the entries that run there.
    On a failure the marker stays as it was, so the next run starts again with the first program.
    """
    digest = programs_digest(programs)
    result = {'changed': False, 'digest': digest, 'results': []}
    if not programs:
        return result
    wait_agent(agent, agent_timeout, now=now, sleep=sleep)
    before = read_marker(agent, marker)
    after = digest + '\n'
    result['diff'] = {'before': before or '', 'after': after, 'before_header': marker, 'after_header': marker}
    if before == after:
        return result
    result['changed'] = True
    if check_mode:
        return result
    results = result['results']
    for program in programs:
        try:
            ran, message = _run_entry(agent, program, timeout, agent_timeout, agents, now, sleep)
        except GuestExecError as exc:
            raise GuestExecError('%s: %s' % (program['label'], exc), results)
        results.append(ran)
        if message:
            raise GuestExecError(message, results)
    try:
        write_marker(agent, marker, after)
    except GuestExecError as exc:
        raise GuestExecError(str(exc), results)
    return result


def _entry_problems(index, program, name):
    where = 'programs[%d] (%s)' % (index, program['label'])
    spec = program.get('file')
    if spec:
        problems = ['%s: file and %s exclude each other' % (where, key) for key in ('argv', 'guest') if program.get(key)]
        if not posixpath.isabs(spec['path']) or spec['path'].endswith('/'):
            problems.append('%s: file.path %s is not the absolute path of a file' % (where, spec['path']))
        if not re.match(r'^0?[0-7]{3}$', spec['mode']):
            problems.append('%s: file.mode %s is not an octal mode such as 0644' % (where, spec['mode']))
        try:
            base64.b64decode(spec['content'], validate=True)
        except (TypeError, ValueError):
            problems.append('%s: file.content is not base64' % where)
        return problems
    if not program.get('argv'):
        return ['%s: argv is empty' % where]
    if program.get('guest') and program['guest'] == name:
        return ['%s: guest %s is the guest itself: leave guest out' % (where, name)]
    return []


def parameter_problems(params):
    """Every problem of the module's ``params``, each a message naming the option (and program)."""
    problems = []
    for index, program in enumerate(params['programs']):
        problems.extend(_entry_problems(index, program, params.get('name')))
    if not posixpath.isabs(params['marker']):
        problems.append('marker %s is not an absolute path' % params['marker'])
    problems.extend('%s must be at least 0, not %d' % (option, params[option])
                    for option in ('timeout', 'agent_timeout') if params[option] < 0)
    return problems


def guest_exec(params, check_mode):
    """The module's work for its ``params``: check them, connect, find the guest, ``ensure_ran``."""
    problems = parameter_problems(params)
    if problems:
        raise GuestExecError('; '.join(problems))
    if not params['programs']:
        return ensure_ran(None, [], params['marker'], params['timeout'], params['agent_timeout'], check_mode)
    connection = GuestConnection(params['uri'])
    try:
        try:
            agent = connection.agent(params['name'])
        except GuestNotRunning:
            if not check_mode:
                raise
            # A check-mode deploy has not created (or started) the guest yet: its programs would run.
            return {'changed': True, 'digest': programs_digest(params['programs']), 'results': []}
        others = {}

        def agents(name):
            # Another guest of this host that an entry runs in (the attacker of an emulate_attack).
            if name not in others:
                try:
                    others[name] = connection.agent(name)
                except GuestNotRunning as exc:
                    raise GuestExecError('guest %s: %s' % (name, exc))
            return others[name]

        return ensure_ran(agent, params['programs'], params['marker'], params['timeout'], params['agent_timeout'],
                          check_mode, agents=agents)
    finally:
        connection.close()
