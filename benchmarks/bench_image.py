#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build time of one CyRIS image three ways, printed as a table.

1. bare: ``virt-builder TEMPLATE`` with no customisation (the floor: one appliance boot);
   with --operations, also virt-builder running the module's own operations (from the module's
   planner) directly, which separates the cost of the tasks from the module's overhead;
2. module: ``kvm_auto_image`` with 3 accounts, 1 rename and 1 password change (one virt-builder
   run, one appliance boot), run as the module process Ansible starts; then once through
   ``ansible-playbook``, and again, which must find the image up to date;
3. reference: the approach of the reference implementation, ``virt-builder`` then one
   ``virt-customize`` per task (five more appliance boots).

Passwords are random and go to the tools through 0600 files, in every variant.

    . scripts/env.sh && python benchmarks/bench_image.py [--repo DIR] [--template NAME] [--workdir DIR] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ACCOUNTS = ('alice', 'bob', 'carol')


def run(argv, env, quiet=True):
    """Run ``argv``; return the wall-clock seconds; raise with its output when it fails."""
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise SystemExit('failed (rc=%d): %s' % (proc.returncode, ' '.join(argv)))
    if not quiet:
        sys.stdout.write(proc.stdout)
    return elapsed


def private_file(directory, name, text):
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--repo', default=os.environ.get('KVM_AUTO_TEMPLATE_REPO', '/var/lib/cyris-kvm-auto/templates'))
    parser.add_argument('--template', default='debian-12')
    parser.add_argument('--workdir', default='/var/tmp', help='where the images are written (needs a few GiB)')
    parser.add_argument('--rounds', type=int, default=5,
                        help='alternating bare/module builds (median reported); one build varies by several seconds here')
    parser.add_argument('--operations', action='store_true',
                        help="also run virt-builder directly with the module's operations in each round")
    args = parser.parse_args()

    # The module that runs is the collection on ANSIBLE_COLLECTIONS_PATH: it must be this checkout.
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    linked = [os.path.join(p, 'ansible_collections', 'cyris', 'kvm_auto')
              for p in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) if p]
    if not any(os.path.realpath(p) == os.path.realpath(checkout) for p in linked):
        raise SystemExit('cyris.kvm_auto on ANSIBLE_COLLECTIONS_PATH is not this checkout (%s): run scripts/setup.sh '
                         'and source scripts/env.sh first' % checkout)
    config_dir = os.path.join(args.repo, 'config')
    env = dict(os.environ, VIRT_BUILDER_DIRS=config_dir, XDG_CONFIG_HOME=config_dir)
    work = tempfile.mkdtemp(prefix='bench-image-', dir=args.workdir)
    os.chmod(work, 0o700)
    passwords = dict((name, secrets.token_urlsafe(15)) for name in ACCOUNTS + ('carol-new',))
    common = ['--no-check-signature', '--format', 'qcow2']
    bare_times, direct_times, module_times = [], [], []
    try:
        # Untimed: make sure the template sits in virt-builder's cache for every variant.
        run(['virt-builder', '--cache-all-templates', '--no-check-signature'], env)

        tasks = [{'add_account': [{'account': name, 'passwd': passwords[name]} for name in ACCOUNTS]},
                 {'modify_account': [{'account': 'alice', 'new_account': 'trainee'}]},
                 {'modify_account': [{'account': 'carol', 'new_passwd': passwords['carol-new']}]}]
        image_args = {'path': os.path.join(work, 'module.qcow2'), 'image_name': args.template, 'tasks': tasks,
                      'virt_builder_config_dir': config_dir, 'check_signature': False,
                      'environment': dict((k, v) for k, v in os.environ.items() if k.startswith('LIBGUESTFS_'))}
        vars_file = private_file(work, 'vars.json', json.dumps({'image_args': image_args}))
        playbook = private_file(work, 'play.yml', """---
- name: Benchmark kvm_auto_image
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Build
      cyris.kvm_auto.kvm_auto_image: "{{ image_args }}"
""")
        play = ['ansible-playbook', '-i', 'localhost,', '-c', 'local',
                '-e', 'ansible_python_interpreter=%s' % sys.executable, '-e', '@' + vars_file, playbook]

        # The module's own operations, run by virt-builder directly: the floor for doing these tasks.
        # The planner comes from the collection that scripts/env.sh puts on ANSIBLE_COLLECTIONS_PATH.
        sys.path[:0] = [p for p in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) if p]
        from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_tasks import (  # pylint: disable=import-outside-toplevel
            normalize_tasks, plan_build)
        from ansible_collections.cyris.kvm_auto.plugins.module_utils._virt_builder import (  # pylint: disable=import-outside-toplevel
            virt_builder_build_argv)
        staging = os.path.join(work, 'staging')
        os.mkdir(staging, 0o700)
        plan = plan_build(normalize_tasks(tasks), staging, osinfo='debian12')
        for path, text, mode in plan['files']:
            private_file(staging, os.path.basename(path), text)
        commands = private_file(staging, 'customize.txt', '\n'.join(plan['lines']) + '\n')
        direct = virt_builder_build_argv('virt-builder', args.template, os.path.join(work, 'direct.qcow2'), None,
                                         'qcow2', 'x86_64', commands, check_signature=False, network=plan['network'])

        # The module process itself, as Ansible's controller starts it (arguments from a 0600 file);
        # ansible-playbook around it is measured once below.
        module_args = private_file(work, 'module-args.json', json.dumps({'ANSIBLE_MODULE_ARGS': image_args}))
        module_cmd = [sys.executable, '-m', 'ansible_collections.cyris.kvm_auto.plugins.modules.kvm_auto_image',
                      module_args]
        module_env = dict(env, PYTHONPATH=os.environ.get('ANSIBLE_COLLECTIONS_PATH', ''))

        def fresh():
            for name in ('bare.qcow2', 'direct.qcow2', 'module.qcow2', 'module.qcow2.kvm-auto.json'):
                if os.path.exists(os.path.join(work, name)):
                    os.unlink(os.path.join(work, name))

        # The variants alternate, so a load change on a shared machine hits each of them.
        for dummy in range(args.rounds):
            fresh()
            bare_times.append(run(['virt-builder', args.template, '--output', os.path.join(work, 'bare.qcow2'),
                                   '--root-password', 'disabled', '--no-network'] + common, env))
            if args.operations:
                direct_times.append(run(direct, env))
            module_times.append(run(module_cmd, module_env))
        fresh()
        playbook_time = run(play, env)
        rerun = run(play, env)
        ansible_floor = run(['ansible', 'localhost', '-i', 'localhost,', '-c', 'local', '-m', 'ansible.builtin.ping',
                             '-e', 'ansible_python_interpreter=%s' % sys.executable], env)

        # Reference: the image first, then one appliance boot per task.
        reference_image = os.path.join(work, 'reference.qcow2')
        reference = run(['virt-builder', args.template, '--output', reference_image,
                         '--root-password', 'disabled', '--no-network'] + common, env)
        customize = ['virt-customize', '--format', 'qcow2', '-a', reference_image, '--no-network']
        for name in ACCOUNTS:
            pw_file = private_file(work, 'ref-%s' % name, passwords[name] + '\n')
            reference += run(customize + ['--run-command', 'useradd -m -s /bin/bash %s' % name,
                                          '--password', '%s:file:%s' % (name, pw_file)], env)
        reference += run(customize + ['--run-command', 'usermod -l trainee alice && usermod -d /home/trainee -m trainee'],
                         env)
        pw_file = private_file(work, 'ref-carol-new', passwords['carol-new'] + '\n')
        reference += run(customize + ['--password', 'carol:file:%s' % pw_file], env)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    bare, module = (statistics.median(t) for t in (bare_times, module_times))
    direct = statistics.median(direct_times) if direct_times else None
    rows = [
        ('bare virt-builder (no tasks)', bare, 1.0),
    ] + ([('virt-builder with the module\'s operations', direct, direct / bare)] if direct else []) + [
        ('kvm_auto_image (module process)', module, module / bare),
        ('kvm_auto_image via ansible-playbook (1 run)', playbook_time, playbook_time / bare),
        ('kvm_auto_image rerun, up to date', rerun, rerun / bare),
        ('  ansible-playbook floor (ping)', ansible_floor, ansible_floor / bare),
        ('reference: virt-builder + 5 virt-customize', reference, reference / bare),
    ]
    print('template %s, tasks: 3 add_account, 1 rename, 1 password change; median of %d alternating rounds'
          % (args.template, args.rounds))
    for name, times in (('bare', bare_times), ('operations', direct_times), ('module', module_times)):
        if times:
            print('%-10s rounds: %s' % (name, ' '.join('%.1f' % t for t in times)))
    print('%-45s %9s %8s' % ('variant', 'seconds', 'x bare'))
    for name, seconds, ratio in rows:
        print('%-45s %9.1f %8.2f' % (name, seconds, ratio))
    print('module vs bare: %.2fx median, %.2fx best of each (goal <= 1.10x); module vs reference: %.2fx'
          % (module / bare, min(module_times) / min(bare_times), module / reference))
    if direct:
        print('module overhead over its own operations (listing, key, checksum, state): %+.1f s median'
              % (module - direct))


if __name__ == '__main__':
    main()
