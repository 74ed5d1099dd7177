#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measure a whole range deployment against the bare work it needs.

Uses the range and the two SSH hosts of the end-to-end target
(tests/integration/targets/range) and prints:

* cold deploy time vs. the sum of the bare builds and bare boots it needs (goal <= 1.2x);
* warm rerun time vs. cold (goal <= 15 %);
* builds run vs. guests;
* bytes copied per host vs. the size of the images that host needs (goal <= 1.1x; 0 on rerun).

"Bare" means each image built alone with kvm_auto_image, and each guest booted alone to its
login prompt with kvm_auto_vm, one after the other. Run as root from a checkout with
``. scripts/env.sh`` sourced; it takes about 15 minutes on 2 cores and cleans up after itself.
Environment: KVM_AUTO_VIRT_TYPE (default qemu), KVM_AUTO_TEMPLATE_REPO, LIBGUESTFS_BACKEND(_SETTINGS).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = os.path.join(ROOT, 'tests', 'integration', 'targets', 'range')
WORK = os.environ.setdefault('KVM_AUTO_RANGE_TEST_DIR', '/var/tmp/kvm-auto-range-bench')

REPORT_PLAY = '''
- name: Deploy
  ansible.builtin.import_playbook: cyris.kvm_auto.deploy_range

- name: Save what the deployment did
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Save the report and the details
      ansible.builtin.copy:
        content: "{{ {'report': kvm_auto_range_report, 'details': kvm_auto_range_details} | to_json }}"
        dest: "%(out)s"
        mode: "0600"
'''

BUILD_PLAY = '''
- name: Build one image alone
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Build it
      cyris.kvm_auto.kvm_auto_image:
        path: "{{ bench_path }}"
        image_name: "{{ bench_image.image_name }}"
        disk_size: "{{ bench_image.disk_size }}"
        tasks: "{{ bench_image.tasks }}"
        virt_builder_config_dir: "{{ kvm_auto_range_virt_builder_config_dir }}"
        check_signature: false
        environment: "{{ kvm_auto_range_libguestfs_environment }}"
        rebuild: always
'''


def run(argv, log=None, env=None):
    """Run a command; return seconds taken. Output goes to ``log`` (appended) when given."""
    start = time.time()
    if log:
        with open(log, 'a') as handle:
            subprocess.run(argv, check=True, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=TARGET)
    else:
        subprocess.run(argv, check=True, env=env, cwd=TARGET)
    return time.time() - start


def plan(range_file):
    sys.path.insert(0, os.path.join(os.environ.get('KVM_AUTO_CACHE', '/var/cache/cyris-kvm-auto'), 'collections'))
    from ansible_collections.cyris.kvm_auto.plugins.filter.range_plan import range_plan  # pylint: disable=import-error
    with open(range_file) as handle:
        return range_plan(handle.read(), check_files=False)


def bare_builds(images, scratch, common_vars, log):
    times = {}
    play = os.path.join(scratch, 'build.yml')
    with open(play, 'w') as handle:
        handle.write(BUILD_PLAY)
    for image in images:
        extra = os.path.join(scratch, 'image.json')
        # The image's tasks hold (test) passwords: a 0600 file in a private directory.
        fd = os.open(extra, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump({'bench_image': image, 'bench_path': os.path.join(scratch, image['name'])}, handle)
        times[image['name']] = run(['ansible-playbook', play, '-e', '@' + common_vars, '-e', '@' + extra], log)
        os.unlink(extra)
    return times


def bare_boots(vms, scratch, settings, log):
    times = {}
    for vm in vms:
        args = {
            'name': 'bench-' + vm['name'].replace('_', '-'), 'state': 'running',
            'image': os.path.join(scratch, vm['image']), 'disk_dir': scratch,
            'vcpus': vm['vcpus'], 'memory': vm['memory'], 'virt_type': settings['kvm_auto_range_virt_type'],
            'networks': [{'network': settings['kvm_auto_range_network'], 'model': vm['network_model']}],
            'graphics': vm['graphics'], 'wait_for': 'console', 'wait_timeout': 900,
        }
        times[vm['name']] = run(['ansible', 'localhost', '-m', 'cyris.kvm_auto.kvm_auto_vm', '-a', json.dumps(args)], log)
        absent = {'name': args['name'], 'state': 'absent', 'disk_dir': scratch}
        run(['ansible', 'localhost', '-m', 'cyris.kvm_auto.kvm_auto_vm', '-a', json.dumps(absent)], log)
    return times


def copied_bytes(report, details, image_dirs):
    """Bytes copied to each host (sizes of the files whose copy changed) and the sizes it needs."""
    per_host = {}
    for host in ('host_a', 'kvm-b'):
        files = dict((i['name'], i['host_file']) for i in details['images'])
        needed = [c['image'] for c in details_copies(details) if c['inventory_host'] == host]
        sizes = dict((image, os.path.getsize(os.path.join(image_dirs[host], files[image]))) for image in needed)
        copied = sum(sizes.get(c['image'], 0) for c in report['copied'] if c['inventory_host'] == host)
        per_host[host] = (copied, sum(sizes.values()))
    return per_host


def details_copies(details):
    inventory = dict((h['id'], h['inventory_host']) for h in details['hosts'])
    return [{'image': i['name'], 'inventory_host': inventory[h]} for i in details['images'] for h in i['hosts']]


def main():
    range_file = os.path.join(TARGET, 'files', 'range.yml')
    log = os.path.join(tempfile.gettempdir(), 'bench_range.log')
    open(log, 'w').close()
    scratch = tempfile.mkdtemp(prefix='bench-range-', dir='/var/tmp')
    os.chmod(scratch, 0o711)  # libvirt's qemu user reads the images and disks in it
    try:
        print('setting up the SSH hosts (log: %s)' % log, flush=True)
        run(['ansible-playbook', 'setup.yml'], log)
        common = ['-i', os.path.join(WORK, 'inventory.yml'), '-e', '@' + os.path.join(WORK, 'vars.yml')]
        with open(os.path.join(WORK, 'vars.yml')) as handle:
            import yaml  # pylint: disable=import-outside-toplevel
            settings = yaml.safe_load(handle)
        the_plan = plan(range_file)

        print('bare builds, one at a time ...', flush=True)
        builds = bare_builds(the_plan['images'], scratch, os.path.join(WORK, 'vars.yml'), log)
        print('bare boots, one at a time ...', flush=True)
        boots = bare_boots(the_plan['vms'], scratch, settings, log)

        out = os.path.join(scratch, 'report.json')
        play = os.path.join(scratch, 'deploy.yml')
        with open(play, 'w') as handle:
            handle.write(REPORT_PLAY % {'out': out})
        print('cold deploy ...', flush=True)
        cold = run(['ansible-playbook', play] + common, log)
        with open(out) as handle:
            cold_result = json.load(handle)
        print('warm rerun ...', flush=True)
        warm = run(['ansible-playbook', play] + common, log)
        with open(out) as handle:
            warm_result = json.load(handle)

        image_dirs = {'host_a': os.path.join(WORK, 'host_a', 'images'), 'kvm-b': os.path.join(WORK, 'host_b', 'images')}
        bare = sum(builds.values()) + sum(boots.values())
        print()
        print('range: %d guests, %d image configurations, 2 hosts over SSH' % (len(the_plan['vms']), len(the_plan['images'])))
        print('bare builds : %s = %.0f s' % (' + '.join('%.0f' % t for t in builds.values()), sum(builds.values())))
        print('bare boots  : %s = %.0f s' % (' + '.join('%.0f' % t for t in boots.values()), sum(boots.values())))
        print('cold deploy : %.0f s = %.2f x the bare builds and boots (%.0f s; goal <= 1.2)' % (cold, cold / bare, bare))
        print('warm rerun  : %.0f s = %.0f %% of cold (goal <= 15 %%)' % (warm, 100.0 * warm / cold))
        print('builds run  : %d for %d guests (rerun: %d)' % (
            len(cold_result['report']['built']), len(the_plan['vms']), len(warm_result['report']['built'])))
        for name, result in (('cold', cold_result), ('rerun', warm_result)):
            for host, (copied, needed) in sorted(copied_bytes(result['report'], cold_result['details'], image_dirs).items()):
                print('copied %-5s: %-6s %d bytes for %d bytes of images = %.2f x (goal <= 1.1; 0 on rerun)' % (
                    name, host, copied, needed, copied / float(needed) if needed else 0.0))
    finally:
        print('cleaning up ...', flush=True)
        subprocess.run(['ansible-playbook', 'cyris.kvm_auto.destroy_range', '-i', os.path.join(WORK, 'inventory.yml'),
                        '-e', '@' + os.path.join(WORK, 'vars.yml'), '-e', 'kvm_auto_range_purge_images=true'],
                       cwd=TARGET, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        subprocess.run(['ansible-playbook', 'teardown.yml'], cwd=TARGET, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == '__main__':
    main()
