# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Log in on a guest's serial console through libvirt and run ``id``.

    python console_login.py URI DOMAIN ACCOUNT TIMEOUT  < password

Opens the console with virDomainOpenConsole (a virStream), answers the login prompt, waits for a
shell prompt, runs ``id``, logs out and prints {"id": "<output of id>"} as JSON.  The password is
read from stdin so that it never shows in a process list.  Exits non-zero with what the console
showed last when a step times out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import sys
import threading
import time

import libvirt


def _run_event_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


class Console:
    def __init__(self, uri, name):
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
        # A non-blocking stream only receives data while libvirt's event loop runs.
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=_run_event_loop, daemon=True).start()
        self.conn = libvirt.open(uri)
        self.stream = self.conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        # FORCE: take the console over from a session left open by an earlier failed run.
        self.conn.lookupByName(name).openConsole(None, self.stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        self.seen = ''

    def send(self, text):
        self.stream.send(text.encode('utf-8'))

    def expect(self, pattern, timeout):
        """Text up to and including the first match of ``pattern``; consumed from what was seen."""
        deadline = time.time() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.seen)
            if match:
                text, self.seen = self.seen[:match.end()], self.seen[match.end():]
                return text
            if time.time() >= deadline:
                raise SystemExit('no %r on the console within %d s; last output: %r' % (pattern, timeout, self.seen[-800:]))
            data = self.stream.recv(4096)
            if data == -2:  # nothing to read yet
                time.sleep(0.2)
            elif isinstance(data, bytes) and data:
                self.seen += data.decode('utf-8', 'replace')
            else:
                raise SystemExit('the console closed; last output: %r' % self.seen[-800:])

    def close(self):
        try:
            self.stream.finish()
        except libvirt.libvirtError:
            self.stream.abort()
        self.conn.close()


def main():
    uri, name, account, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    password = sys.stdin.readline().rstrip('\n')
    console = Console(uri, name)
    try:
        # A fresh getty prompt: an earlier session may have left the console anywhere.
        console.send('\r')
        console.expect(r'login: $', timeout)
        console.send(account + '\r')
        console.expect(r'Password: ?$', timeout)
        console.send(password + '\r')
        if 'Login incorrect' in console.expect(r'\$ $|Login incorrect', timeout):
            raise SystemExit('the guest refused the login of %s' % account)
        console.send('id\r')
        output = console.expect(r'uid=[^\r\n]*\r?\n', timeout)
        console.expect(r'\$ $', timeout)
        console.send('exit\r')
    finally:
        console.close()
    line = re.search(r'uid=[^\r\n]*', output).group(0)
    print(json.dumps({'id': line}))


if __name__ == '__main__':
    main()
