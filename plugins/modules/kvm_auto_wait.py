#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The action plugin of the same name does the work; this file holds its documentation.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: kvm_auto_wait
short_description: Wait for asynchronous jobs, showing which are still running
version_added: 0.1.0
description:
  - Waits for jobs started with C(async) and C(poll) set to 0, polling each with M(ansible.builtin.async_status)
    on the task's host (a delegated task polls on the host it is delegated to).
  - At default verbosity it shows a progress line when a job finishes and otherwise at most every
    O(report_interval) seconds, for example C(2 of 3 images built, still building kvmauto-x (3m10s)).
  - Returns the jobs' results in the shape of a loop over M(ansible.builtin.async_status), each with the
    job's own C(item).
  - Fails, once every job has finished or O(timeout) has passed, with one message naming each job that
    failed (with its own error) or is still running.
author:
  - cyris.kvm_auto contributors (@cyris-kvm-auto)
extends_documentation_fragment:
  - cyris.kvm_auto.attributes
  - cyris.kvm_auto.attributes.action
  - cyris.kvm_auto.attributes.async
attributes:
  action:
    support: full
  async:
    support: none
  check_mode:
    support: full
    details: It only reads the jobs' status; the jobs themselves ran in check mode.
  diff_mode:
    support: full
    details: It returns the diffs of the changed jobs, as one list.
  idempotent:
    support: full
    details: It reports C(changed) when a job it waited for reported it.
options:
  jobs:
    description:
      - The registered C(results) of the looped task that started the jobs, each with C(ansible_job_id) and
        C(item).
      - A result without C(ansible_job_id) (its start was skipped) is returned as skipped.
    type: list
    elements: dict
    required: true
  label_key:
    description: The key of a dict C(item) that names its job; a string C(item) names its job itself.
    type: str
    default: name
  host:
    description:
      - Wait only for the jobs whose C(item.inventory_host) is this host, for jobs started on several hosts.
      - Delegate the task to that host, where the jobs run.
    type: str
  noun:
    description: What a job makes, in the progress line and the messages.
    type: str
    default: job
  plural:
    description: The plural of O(noun); O(noun) with C(s) when omitted.
    type: str
  done:
    description: What a finished job is, in the progress line.
    type: str
    default: finished
  pending:
    description: What a running job is doing, in the progress line.
    type: str
    default: waiting for
  timeout:
    description: Seconds to wait for all jobs before failing with the names of those still running.
    type: int
    default: 3600
  poll_interval:
    description:
      - Seconds between two polls of the pending jobs, once they have run a while; the first polls come
        sooner (1, 2, 4... seconds apart), so that a job that ends quickly is not waited for long.
    type: int
    default: 5
  report_interval:
    description: Seconds at most between two progress lines while no job finishes.
    type: int
    default: 30
  results_key:
    description:
      - The key under which each job's result holds a list of results of its own, one per thing the job made
        (V(guests) for M(cyris.kvm_auto.kvm_auto_vms)).
      - When set, RV(results) holds those results, job after job, in place of the jobs' own; a job's result
        without that list (a job not started, or one that failed before it made anything) stays as it is.
    type: str
seealso:
  - module: ansible.builtin.async_status
'''

EXAMPLES = r'''
- name: Start building images
  cyris.kvm_auto.kvm_auto_image:
    name: "{{ item }}"
    path: "/var/lib/cyris-kvm-auto/images/{{ item }}"
    image_name: debian-12
  loop: [web, db]
  async: 3600
  poll: 0
  changed_when: false
  register: build_jobs

- name: Wait for the image builds
  cyris.kvm_auto.kvm_auto_wait:
    jobs: "{{ build_jobs.results }}"
    noun: image
    done: built
    pending: building
    timeout: 3660
  register: builds

- name: Wait for the guests on each KVM host (one kvm_auto_vms job per host), with a result per guest
  cyris.kvm_auto.kvm_auto_wait:
    jobs: "{{ guest_jobs.results }}"
    host: "{{ item }}"
    noun: batch of guests
    plural: batches of guests
    done: up
    pending: booting
    results_key: guests
  delegate_to: "{{ item }}"
  loop: [kvm1, kvm2]
'''

RETURN = r'''
results:
  description:
    - One M(ansible.builtin.async_status) result per job, in the order of O(jobs), each with the job's C(item).
    - A job that was not started is C(skipped).
    - With O(results_key), the results each job holds under that key instead.
  returned: always
  type: list
  elements: dict
  sample: [{"finished": true, "changed": true, "item": "web", "ansible_job_id": "j123.456"}]
diff:
  description: The diffs of the jobs that changed something, one after the other.
  returned: when a job that changed something returned a diff
  type: list
  elements: dict
msg:
  description: Each failed or unfinished job with its error, when the task fails.
  returned: failure
  type: str
  sample: "image web failed: virt-builder: error: no template debian-13"
'''
