# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks of the access test (runme.sh), one command each; prints one line per check, exits 1 on a failure.

    check_access.py notification FILE ADDRESS FIRST-LAST
        the notification lists every instance once, each with its own account, port (in
        FIRST-LAST) and password, all at ADDRESS; prints each login line (never a password)
    check_access.py login FILE NETNS INSTANCE HOSTNAME
        from network namespace NETNS, the notification's login of INSTANCE (ssh ACCOUNT@ADDRESS
        -p PORT with its password) runs `hostname` on a guest called HOSTNAME
    check_access.py ports FILE
        prints the notification's ports, one a line
    check_access.py state DETAILS OUT
        records each guest's boot id and whether the marker file is there (guest agent)
    check_access.py mark DETAILS [INSTANCE ...]
        writes the marker file in the guests of these instances (all when none given), on disk
    check_access.py expect DETAILS BEFORE [INSTANCE ...]
        the guests of these instances were reset since BEFORE (new boot, no marker); every other
        guest was left alone (same boot, marker as it was)
    check_access.py secrets FILE PATH ...
        no password of the notification appears in any of these files
    check_access.py sample-argv OUT
        until killed, appends every new command line of any process to OUT (for `secrets`)
"""
import json
import os
import re
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
# The guest agent helper of the topology test (aliases: needs/target/range_topology).
sys.path.insert(0, os.path.join(HERE, '..', '..', 'range_topology', 'files'))
from guest_exec import run  # noqa: E402  pylint: disable=wrong-import-position

MARKER = '/var/lib/kvm-auto-access-test-marker'
LOGIN = re.compile(r'^\s*Login: ssh (?P<account>\S+)@(?P<address>\S+) -p (?P<port>\d+)\s*$')
PASSWORD = re.compile(r'^\s*Password: (?P<password>\S+)\s*$')
INSTANCE = re.compile(r'^- Cyber range instance #(?P<instance>\d+):\s*$')
TOTAL = re.compile(r'^- Total number of cyber range instances: (?P<total>\d+)\s*$')

failures = []


def check(what, ok, detail=''):
    print('%s  %s%s' % ('ok  ' if ok else 'FAIL', what, (': ' + detail.strip()) if detail and not ok else ''))
    if not ok:
        failures.append(what)


def read_notification(path):
    """(total, {instance: {account, address, port, password}}) as the notification file gives them."""
    total, instances, current = None, {}, None
    with open(path) as handle:
        for line in handle:
            for pattern in (TOTAL, INSTANCE, LOGIN, PASSWORD):
                found = pattern.match(line)
                if not found:
                    continue
                if pattern is TOTAL:
                    total = int(found.group('total'))
                elif pattern is INSTANCE:
                    current = int(found.group('instance'))
                    instances[current] = {}
                elif current is not None:
                    instances[current].update(found.groupdict())
    for entry in instances.values():
        if 'port' in entry:
            entry['port'] = int(entry['port'])
    return total, instances


def notification(path, address, ports):
    first, last = (int(p) for p in ports.split('-'))
    total, instances = read_notification(path)
    with open(path) as handle:
        check('the notification starts as CyRIS writes it', handle.readline().strip() == 'Dear user,')
    check('the notification counts %d instances' % len(instances), total == len(instances) and total > 0, str(total))
    for number, entry in sorted(instances.items()):
        complete = all(entry.get(k) for k in ('account', 'address', 'port', 'password'))
        check('instance %d has an account, address, port and password' % number, complete,
              'got ' + ', '.join(sorted(entry)))
        if not complete:
            continue
        print('      instance %d: ssh %s@%s -p %d' % (number, entry['account'], entry['address'], entry['port']))
        check('instance %d: its account is trainee%02d' % (number, number), entry['account'] == 'trainee%02d' % number,
              entry['account'])
        check('instance %d: the address is %s' % (number, address), entry['address'] == address, entry['address'])
        check('instance %d: the port is in %s' % (number, ports), first <= entry['port'] <= last, str(entry['port']))
        check('instance %d: the password is not trivially short' % number, len(entry['password']) >= 12,
              '%d characters' % len(entry['password']))
    values = [e for e in instances.values() if 'port' in e and 'password' in e]
    check('every instance has its own port', len(set(e['port'] for e in values)) == len(values))
    check('every instance has its own password', len(set(e['password'] for e in values)) == len(values))


def login(path, netns, instance, hostname, timeout=300):
    """SSH in as a trainee would, from ``netns``; retried while the guest's sshd is not up yet."""
    entry = read_notification(path)[1][int(instance)]
    argv = ['ip', 'netns', 'exec', netns, 'sshpass', '-e', 'ssh', '-p', str(entry['port']),
            '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
            '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password,keyboard-interactive',
            '-o', 'NumberOfPasswordPrompts=1', '-o', 'ConnectTimeout=10',
            '%s@%s' % (entry['account'], entry['address']), 'hostname']
    # sshpass -e reads the password from its environment: never on a command line.
    env = dict(os.environ, SSHPASS=entry['password'])
    what = 'from %s, ssh %s@%s -p %d lands on %s' % (netns, entry['account'], entry['address'], entry['port'], hostname)
    deadline = time.time() + timeout
    seen = []  # each different failure once, in order: the last one alone may hide the cause
    while True:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=60)
        if done.returncode == 0 or time.time() > deadline:
            break
        failure = 'exit %d: %s%s' % (done.returncode, done.stdout.strip(), done.stderr.strip())
        if failure not in seen:
            seen.append(failure)
        time.sleep(5)
    check(what, done.returncode == 0 and done.stdout.strip() == hostname,
          'exit %d: %s%s%s' % (done.returncode, done.stdout, done.stderr,
                               ''.join('\n      earlier: ' + f for f in seen)))


def guests(details_path):
    with open(details_path) as handle:
        details = yaml.safe_load(handle)
    return sorted((d['instance'], d['name']) for g in details['guests'] for d in g['domains'])


def state(details_path, out):
    recorded = {}
    for instance, name in guests(details_path):
        code, output = run(name, 'cat /proc/sys/kernel/random/boot_id; test -e %s && echo marked || echo unmarked' % MARKER)
        lines = output.split()
        check('%s answers its guest agent' % name, code == 0 and len(lines) == 2, output)
        recorded[name] = {'instance': instance, 'boot_id': lines[0] if lines else None,
                          'marked': lines[1:] == ['marked']}
    with open(out, 'w') as handle:
        json.dump(recorded, handle, indent=1)


def mark(details_path, instances):
    for instance, name in guests(details_path):
        if instances and instance not in instances:
            continue
        # sync: the marker must be on the disk, or a forced power-off would lose it without any reset.
        code, output = run(name, 'echo written by the access test > %s && sync' % MARKER)
        check('%s: marker written' % name, code == 0, output)


def confined(domain, port):
    """The access link leads nowhere: a listener on the host's loopback, which QEMU user networking
    would show the guest at its .2 address without restrict=on, stays out of the guest's reach."""
    listener = subprocess.Popen([sys.executable, '-c', 'import socket, time; s = socket.socket(); '
                                 's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); '
                                 's.bind(("127.0.0.1", %d)); s.listen(5); time.sleep(60)' % int(port)])
    try:
        time.sleep(1)
        code, output = run(domain, 'nc -z -w 5 100.127.255.2 %d' % int(port), timeout=30)
        check('%s does not reach the KVM host through its access link (100.127.255.2:%s)' % (domain, port),
              code != 0, output)
    finally:
        listener.kill()
        listener.wait()


def expect(details_path, before_path, instances):
    with open(before_path) as handle:
        before = json.load(handle)
    for instance, name in guests(details_path):
        code, output = run(name, 'cat /proc/sys/kernel/random/boot_id; test -e %s && echo marked || echo unmarked' % MARKER)
        lines = output.split()
        if code != 0 or len(lines) != 2:
            check('%s answers its guest agent' % name, False, output)
            continue
        boot_id, marked = lines[0], lines[1] == 'marked'
        if instance in instances:
            check('%s (instance %d, reset) booted again' % (name, instance), boot_id != before[name]['boot_id'])
            check('%s (instance %d, reset) lost its marker' % (name, instance), not marked)
        else:
            check('%s (instance %d) was not restarted' % (name, instance), boot_id == before[name]['boot_id'])
            check('%s (instance %d) kept its disk (marker %s)' % (name, instance, 'there' if before[name]['marked'] else 'absent'),
                  marked == before[name]['marked'])


def secrets(path, files):
    passwords = dict((number, e['password'].encode()) for number, e in read_notification(path)[1].items() if e.get('password'))
    check('the notification gives passwords to look for', bool(passwords))
    check('there are files to look in', bool(files))
    for name in files:
        with open(name, 'rb') as handle:
            data = handle.read()
        found = [number for number, password in sorted(passwords.items()) if password in data]
        check('no password in %s (%d bytes)' % (name, len(data)), not found,
              'the password of instance %s is there' % ', '.join(str(n) for n in found))


def sample_argv(out, interval=0.25):
    seen = set()
    # 0600: every command line of the machine, whatever secrets others put there.
    with os.fdopen(os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), 'ab') as handle:
        while True:
            for pid in os.listdir('/proc'):
                if not pid.isdigit():
                    continue
                try:
                    with open('/proc/%s/cmdline' % pid, 'rb') as cmdline:
                        line = cmdline.read().replace(b'\0', b' ').strip()
                except OSError:
                    continue  # gone meanwhile
                if line and line not in seen:
                    seen.add(line)
                    handle.write(line + b'\n')
                    handle.flush()
            time.sleep(interval)


def main(command, args):
    if command == 'notification':
        notification(*args)
    elif command == 'login':
        login(*args)
    elif command == 'ports':
        for dummy, entry in sorted(read_notification(args[0])[1].items()):
            print(entry['port'])
    elif command == 'state':
        state(*args)
    elif command == 'mark':
        mark(args[0], [int(i) for i in args[1:]])
    elif command == 'expect':
        expect(args[0], args[1], [int(i) for i in args[2:]])
    elif command == 'confined':
        confined(*args)
    elif command == 'secrets':
        secrets(args[0], args[1:])
    elif command == 'sample-argv':
        sample_argv(*args)
    else:
        sys.exit('unknown command %s (see the docstring)' % command)
    if failures:
        print('%d failed' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2:]))
