#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a resized qcow2 image costs to copy, as virt-builder writes it and as kvm_auto_image keeps it.

virt-builder resizes into a qcow2 file created with preallocation=metadata: the file is as long
as the virtual disk and mostly holes. ansible.builtin.copy reads every byte of its source and
writes every byte on the host, holes included. kvm_auto_image compacts such a file with
``qemu-img convert`` before it renames it into place. This script builds one resized image with
virt-builder (the module's own argv builder), compacts it with the module's own argv builder, and
prints for both files: length, allocated size, the bytes and seconds of a full read (what a copy
sends), the sha256 time (the module hashes the final file) and the compaction time.

    . scripts/env.sh && python benchmarks/bench_sparse.py [--size 8G] [--image BUILT.qcow2] [--workdir DIR]

``--image`` reuses an image virt-builder resized before (it is only read, never changed).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

CHUNK = 4 * 1024 * 1024


def run(argv, env=None):
    """Run ``argv``; return the wall-clock seconds; raise with its output when it fails."""
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise SystemExit('failed (rc=%d): %s' % (proc.returncode, ' '.join(argv)))
    return elapsed


def full_read(path):
    """Bytes and seconds of reading ``path`` end to end, as a plain copy does; and its sha256 seconds."""
    start = time.monotonic()
    sent = 0
    with open(path, 'rb') as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            sent += len(chunk)
    read_seconds = time.monotonic() - start
    start = time.monotonic()
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b''):
            digest.update(chunk)
    return sent, read_seconds, time.monotonic() - start


def gib(count):
    return '%.2f GiB' % (count / 1024.0 ** 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--repo', default=os.environ.get('KVM_AUTO_TEMPLATE_REPO', '/var/lib/cyris-kvm-auto/templates'))
    parser.add_argument('--template', default='debian-12')
    parser.add_argument('--size', default='8G', help='disk size, bigger than the template so virt-builder resizes')
    parser.add_argument('--image', help='a resized qcow2 image virt-builder built before: skip the build')
    parser.add_argument('--workdir', default='/var/tmp', help='where the images are written (needs ~2 GiB)')
    args = parser.parse_args()

    sys.path[:0] = [p for p in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) if p]
    # pylint: disable=import-outside-toplevel
    from ansible_collections.cyris.kvm_auto.plugins.module_utils._files import allocation, is_mostly_holes
    from ansible_collections.cyris.kvm_auto.plugins.module_utils._sizes import parse_size
    from ansible_collections.cyris.kvm_auto.plugins.module_utils._virt_builder import (
        qcow2_compact_argv, virt_builder_build_argv, virt_builder_environment)

    work = tempfile.mkdtemp(prefix='bench-sparse-', dir=args.workdir)
    os.chmod(work, 0o700)
    try:
        built = args.image
        build_seconds = None
        if not built:
            config_dir = os.path.join(args.repo, 'config')
            env = dict(os.environ, **virt_builder_environment(config_dir))
            commands = os.path.join(work, 'customize.txt')
            with open(commands, 'w') as handle:
                handle.write('root-password disabled\n')
            built = os.path.join(work, 'built.qcow2')
            build_seconds = run(virt_builder_build_argv(
                'virt-builder', args.template, built, parse_size(args.size), 'qcow2', 'x86_64', commands,
                check_signature=False, network=False), env)
        compact = os.path.join(work, 'compact.qcow2')
        compact_seconds = run(qcow2_compact_argv('qemu-img', built, compact))
        run(['qemu-img', 'compare', '-f', 'qcow2', '-F', 'qcow2', built, compact])

        if build_seconds is not None:
            print('virt-builder %s --size %s: %.1f s' % (args.template, args.size, build_seconds))
        print('qemu-img convert (compaction): %.2f s; contents compared identical' % compact_seconds)
        print('%-34s %14s %14s %16s %9s %9s %s' % ('file', 'length', 'allocated', 'full read sends', 'read s',
                                                   'sha256 s', 'mostly holes'))
        for label, path in (('as virt-builder writes it (before)', built), ('as kvm_auto_image keeps it (after)', compact)):
            length, allocated = allocation(path)
            sent, read_seconds, hash_seconds = full_read(path)
            print('%-34s %14s %14s %16s %9.1f %9.1f %s' % (label, gib(length), gib(allocated), gib(sent), read_seconds,
                                                           hash_seconds, is_mostly_holes(length, allocated)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
