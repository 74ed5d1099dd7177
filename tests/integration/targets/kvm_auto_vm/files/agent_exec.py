# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one shell command in a guest through qemu-guest-agent and print its exit code.

    python agent_exec.py URI DOMAIN 'COMMAND'

Runs ``/bin/sh -c COMMAND`` with guest-exec, polls guest-exec-status until it exited and prints
{"exitcode": N, "stdout": TEXT} as JSON (N is the command's own exit code, TEXT its standard
output; this script exits 0 whenever the agent answered).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import sys
import time

import libvirt
import libvirt_qemu


def agent(dom, command, arguments):
    reply = libvirt_qemu.qemuAgentCommand(dom, json.dumps({'execute': command, 'arguments': arguments}), 30, 0)
    return json.loads(reply)['return']


def main(uri, name, command):
    dom = libvirt.open(uri).lookupByName(name)
    pid = agent(dom, 'guest-exec', {'path': '/bin/sh', 'arg': ['-c', command], 'capture-output': True})['pid']
    deadline = time.time() + 60
    while time.time() < deadline:
        status = agent(dom, 'guest-exec-status', {'pid': pid})
        if status['exited']:
            stdout = base64.b64decode(status.get('out-data', '')).decode('utf-8', 'replace')
            print(json.dumps({'exitcode': status.get('exitcode'), 'stdout': stdout}))
            return 0
        time.sleep(0.5)
    sys.stderr.write('%r did not exit within 60 s in %s\n' % (command, name))
    return 1


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:4]))
