# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a shell command inside a guest through its qemu guest agent; no network involved.

    guest_exec.py DOMAIN 'COMMAND'   -> prints the command's output, exits with its exit code
"""
import base64
import json
import subprocess
import sys
import time


def agent(domain, command, arguments):
    message = json.dumps({'execute': command, 'arguments': arguments})
    done = subprocess.run(['virsh', '--connect', 'qemu:///system', 'qemu-agent-command', domain, message],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip())
    return json.loads(done.stdout)['return']


def run(domain, script, timeout=60):
    """(exit code, output) of ``sh -c script`` in the guest; waits for the agent to answer."""
    deadline = time.time() + 180
    while True:
        try:
            pid = agent(domain, 'guest-exec', {'path': '/bin/sh', 'arg': ['-c', script], 'capture-output': True})['pid']
            break
        except RuntimeError:
            if time.time() > deadline:
                raise
            time.sleep(3)
    deadline = time.time() + timeout
    while True:
        status = agent(domain, 'guest-exec-status', {'pid': pid})
        if status['exited']:
            out = base64.b64decode(status.get('out-data', '')).decode('utf-8', 'replace')
            err = base64.b64decode(status.get('err-data', '')).decode('utf-8', 'replace')
            return status.get('exitcode', 1), out + err
        if time.time() > deadline:
            return 124, 'timed out after %d s' % timeout
        time.sleep(0.5)


if __name__ == '__main__':
    code, output = run(sys.argv[1], sys.argv[2])
    sys.stdout.write(output)
    sys.exit(code)
