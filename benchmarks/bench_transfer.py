#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What placing a base image on KVM hosts costs, on rate-limited links, as the range role does it.

Simulated hosts: one network namespace each, with its own sshd on its own address and a veth
pair to this machine whose both ends are shaped by ``tc tbf`` (``--rate``, 100 Mbit/s by
default), so every host has one link of that rate, for what it sends and for what it receives.
This machine is the controller. The transfers are the role's own: the argv of
_image_transfer.transfer_rounds (rsync over SSH, sparse, zstd or not), in the rounds of
_fanout.rounds, each round's sends at once, each received file checked and named by
_image_transfer.place_image. Printed:

* one placement on one host: bytes on the wire and seconds, the image sent whole over SSH (what
  ansible.builtin.copy sent), rsync sparse, and rsync sparse with zstd; the last is the link-time;
* the distribution to 1, 2, 4, 8 hosts (``--hosts``): controller push (one transfer at a time)
  against fan-out, in seconds and in link-times.

    python benchmarks/bench_transfer.py --image BUILT.qcow2 [--rate 100mbit] [--hosts 1,2,4,8]

The simulated hosts share this machine's CPUs (real hosts compress, encrypt and hash each on their
own): on a busy machine the rounds where many hosts send take longer than one link-time.

Needs root, iproute2 (ip, tc), openssh-server, rsync. Everything it creates (namespaces kvmbt*,
their veth pairs, the work directory) is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

# The collection's own code: from the tree this script is in when it is laid out as
# ansible_collections/cyris/kvm_auto, else from the collection path (scripts/env.sh sets it).
sys.path[:0] = [os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))] + [
    path for path in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) if path]

from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_transfer import (  # noqa: E402
    bytes_sent, place_image, remote_shell, sha256_of, transfer_rounds)

PREFIX = 'kvmbt'
CONTROLLER = 'localhost'


def run(argv, check=True):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if check and proc.returncode != 0:
        raise SystemExit('%s failed (rc=%s): %s' % (' '.join(argv), proc.returncode, proc.stdout.strip()))
    return proc.stdout


def ns_of(host):
    return '%s%s' % (PREFIX, host[len('host'):])


class Hosts:
    """``count`` simulated KVM hosts host1..hostN: netns, shaped veth, sshd, image directory."""

    def __init__(self, work, count, rate):
        self.work = work
        self.names = ['host%d' % i for i in range(1, count + 1)]
        self.key = os.path.join(work, 'client')
        run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', self.key])
        run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', os.path.join(work, 'host_key')])
        shutil.copy(self.key + '.pub', os.path.join(work, 'authorized_keys'))
        for i, host in enumerate(self.names, 1):
            ns, outer = ns_of(host), '%so%d' % (PREFIX, i)
            run(['ip', 'netns', 'add', ns])
            run(['ip', 'link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
            run(['ip', 'addr', 'add', '10.231.%d.1/24' % i, 'dev', outer])
            run(['ip', 'link', 'set', outer, 'up'])
            inside = ['ip', 'netns', 'exec', ns]
            run(inside + ['ip', 'addr', 'add', self.address(host) + '/24', 'dev', 'eth0'])
            run(inside + ['ip', 'link', 'set', 'eth0', 'up'])
            run(inside + ['ip', 'link', 'set', 'lo', 'up'])
            run(inside + ['ip', 'route', 'add', 'default', 'via', '10.231.%d.1' % i])
            # One link of ``rate`` per host: what it sends (its eth0) and what it receives (outer).
            for where in (inside + ['tc'], ['tc']):
                dev = 'eth0' if where[0] == 'ip' else outer
                run(where + ['qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '50ms'])
            os.makedirs(self.image_dir(host))
            conf = os.path.join(work, 'sshd_%s.conf' % host)
            with open(conf, 'w') as handle:
                handle.write('ListenAddress %s:22\nHostKey %s/host_key\nPidFile %s/sshd_%s.pid\n'
                             'AuthorizedKeysFile %s/authorized_keys\nPermitRootLogin prohibit-password\n'
                             'PasswordAuthentication no\nUsePAM no\nStrictModes no\n' % (self.address(host), work, work, host, work))
            run(inside + ['/usr/sbin/sshd', '-f', conf])

    @staticmethod
    def address(host):
        return '10.231.%s.2' % host[len('host'):]

    def image_dir(self, host):
        return os.path.join(self.work, host, 'images')

    def host_vars(self):
        """The inventory variables the role would read: address, user, SSH options; the key each host uses."""
        return dict((h, {'ansible_host': self.address(h), 'ansible_user': 'root', 'ansible_ssh_private_key_file': self.key,
                         'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR',
                         'kvm_auto_range_copy_key_file': self.key}) for h in self.names)

    def clear(self):
        for host in self.names:
            for name in os.listdir(self.image_dir(host)):
                os.unlink(os.path.join(self.image_dir(host), name))

    def close(self):
        for i, host in enumerate(self.names, 1):
            pid_file = os.path.join(self.work, 'sshd_%s.pid' % host)
            if os.path.exists(pid_file):
                with open(pid_file) as handle:
                    run(['kill', handle.read().strip()], check=False)
            run(['ip', 'netns', 'del', ns_of(host)], check=False)
            run(['ip', 'link', 'del', '%so%d' % (PREFIX, i)], check=False)


def distribute(hosts, names, image, checksum, fanout, compress):
    """Place ``image`` on ``names`` as the role does; (seconds of each round, bytes on the wire).

    A host whose image directory holds the file already gets nothing (the role's stat).
    """
    name = os.path.basename(image)
    copies = [{'image': name, 'inventory_host': h, 'src': image, 'checksum': checksum,
               'dest': os.path.join(hosts.image_dir(h), name)} for h in names]
    layout = [{'inventory_host': h, 'local': False} for h in names]
    present = set((name, c['inventory_host']) for c in copies if os.path.exists(c['dest']))
    schedule = transfer_rounds(copies, layout, present, hosts.host_vars(), fanout=fanout, compress=compress)
    times = []
    total = 0
    for this_round in schedule:
        start = time.monotonic()
        procs = []
        for send in this_round['sends']:
            prefix = [] if send['sender'] == CONTROLLER else ['ip', 'netns', 'exec', ns_of(send['sender'])]
            procs.append((send, subprocess.Popen(prefix + send['argv'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                 text=True)))
        for send, proc in procs:
            out = proc.communicate()[0]
            if proc.returncode != 0:
                raise SystemExit('%s -> %s failed: %s' % (send['sender'], send['inventory_host'], out))
            total += bytes_sent(out) or 0
        # As the role does: every receiver checks its own copy, all at once.
        with ThreadPoolExecutor(max_workers=len(procs)) as pool:
            outcomes = list(pool.map(lambda send: place_image(send['part'], send['dest'], checksum), [p[0] for p in procs]))
        for changed, error in outcomes:
            if error:
                raise SystemExit(error)
        times.append(time.monotonic() - start)
    return times, total


def whole_over_ssh(hosts, image):
    """The image sent whole over SSH, holes and all, as ansible.builtin.copy (sftp) sent it."""
    host = hosts.names[0]
    dest = os.path.join(hosts.image_dir(host), 'whole')
    shell = remote_shell(hosts.host_vars()[host], hosts.key)
    start = time.monotonic()
    with open(image, 'rb') as handle:
        subprocess.run(shell + [hosts.address(host), 'cat > %s' % dest], stdin=handle, check=True)
    return time.monotonic() - start, os.path.getsize(image)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--image', required=True, help='a built image (only read)')
    parser.add_argument('--rate', default='100mbit', help='each host link, as tc writes it (100mbit)')
    parser.add_argument('--hosts', default='1,2,4,8', help='host counts of the distribution runs')
    parser.add_argument('--workdir', default=None)
    args = parser.parse_args()
    counts = [int(n) for n in args.hosts.split(',')]
    work = tempfile.mkdtemp(prefix='bench-transfer-', dir=args.workdir)
    image = os.path.abspath(args.image)
    info = os.stat(image)
    allocated = info.st_blocks * 512
    checksum = sha256_of(image)
    hosts = Hosts(work, max(counts), args.rate)
    try:
        print('image %s: %.1f MB long, %.1f MB allocated; links %s' % (
            os.path.basename(image), info.st_size / 1e6, allocated / 1e6, args.rate))
        print('one placement on one host:')
        seconds, sent = whole_over_ssh(hosts, image)
        print('  %-28s %8.1f MB %6.2fx allocated %7.1f s' % ('whole over SSH (old copy)', sent / 1e6, sent / allocated, seconds))
        link_time = None
        for compress in (False, True):
            hosts.clear()
            times, sent = distribute(hosts, hosts.names[:1], image, checksum, False, compress)
            label = 'rsync sparse' + (' + zstd -1' if compress else '')
            print('  %-28s %8.1f MB %6.2fx allocated %7.1f s' % (label, sent / 1e6, sent / allocated, sum(times)))
            link_time = sum(times)
        times, sent = distribute(hosts, hosts.names[:1], image, checksum, False, True)
        print('  %-28s %8.1f MB %6.2fx allocated %7.1f s (%d rounds)' % (
            'rerun, the image there', sent / 1e6, sent / allocated, sum(times), len(times)))
        print('distribution (link-time %.1f s: one compressed placement):' % link_time)
        for count in counts:
            for fanout in (False, True):
                hosts.clear()
                times, sent = distribute(hosts, hosts.names[:count], image, checksum, fanout, True)
                print('  %2d hosts %-16s %2d rounds %7.1f s %5.2f link-times %8.1f MB sent (rounds: %s s)' % (
                    count, 'fan-out' if fanout else 'controller push', len(times), sum(times), sum(times) / link_time,
                    sent / 1e6, ' '.join('%.1f' % t for t in times)))
    finally:
        hosts.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
