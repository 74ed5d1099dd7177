# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that expose the CyRIS range planner to the cyris.kvm_auto.kvm_auto_range role.

Glue only: each filter turns Ansible's values into plain data and calls the planner in
plugins/module_utils/_range_*.py. The documentation of each filter is in plugins/filter/NAME.yml.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.cyris.kvm_auto.plugins.module_utils._controller_files import (
    file_digest, same_filesystem, tolerant_digest)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._guest_connection import GUEST_URI_HOST_VAR, SSH_HOST_VARS
from ansible_collections.cyris.kvm_auto.plugins.module_utils._image_transfer import (
    TRANSFER_HOST_VARS, bytes_sent, transfer_rounds)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_check_script import (
    host_check_commands, host_check_results)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_requirements import (
    access_host_state, host_checks, host_problems)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_base_vms import (
    base_vm_checks, base_vm_problems, base_vms, with_base_memory)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_capacity import capacity_checks, capacity_problems
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import RangeError, plain
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_deploy import (
    HOST_DIR_VARS, after_clone_steps, batches, changed_items, deploy_steps, host_dirs, host_jobs,
    host_layout, job_guests, pending_guests, run_report)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_details import (
    destroy_targets, inventory_entries, parse_leases, range_details as _range_details)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_entry import (
    ADDRESS_HOST_VAR, access_entries, reset_selection)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_plan import plan_range, public_view, summary
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_read import load_range
from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_summary import (
    deploy_summary, details_to_write, phase_timings)

# Without the controller's key (check mode before the first run, or a destroy of a range never
# deployed from here) no image of this controller exists yet: any fixed key names images that are
# not there, and none gives an unkeyed digest of the passwords.
_NO_KEY = 'no-image-built-on-this-controller-yet'

# The variables of an inventory host that the plan reads.
_INVENTORY_VARS = (('kvm_auto_range_host_id', 'ansible_connection', ADDRESS_HOST_VAR, GUEST_URI_HOST_VAR)
                   + HOST_DIR_VARS + SSH_HOST_VARS)
# The role's settings that shape the entry points (see _range_entry.DEFAULTS).
_ENTRY_SETTINGS = ('trainee_ports', 'trainee_prefix', 'trainee_sudo', 'trainee_listen', 'access_subnet')


def _inventory_vars(hostvars, names, keys=_INVENTORY_VARS):
    """Inventory host -> the variables of ``keys`` it has (templated by Ansible on access)."""
    found = {}
    for name in names or ():
        try:
            own = hostvars[name]
        except KeyError:
            continue
        found[name] = dict((key, plain(own[key])) for key in keys if key in own)
    return found


def range_plan(data, settings, hostvars=None, inventory_hosts=None, templates=None, salt=None, base_dir=None,
               variables=False, range_id=None, check_files=True, missing_files_ok=False):
    """The whole plan of a range, computed once; ``errors`` lists every problem instead of raising."""
    settings = plain(settings)
    names = plain(inventory_hosts or [])
    # The implicit localhost is in no group, yet may set its directories like any host.
    inventory = _inventory_vars(hostvars or {}, names + ['localhost'])
    digest = None
    if check_files:
        digest = tolerant_digest if missing_files_ok else file_digest
    if variables:
        # Sections given as role variables: an empty one is a section left out.
        data = dict((k, v) for k, v in plain(data).items() if v or k == 'guest_settings')
    try:
        plan = plan_range(
            load_range(data), variables=variables, range_id=None if range_id in (None, '') else to_text(range_id),
            templates=plain(templates) if templates else None, inventory_hosts=names,
            inventory_host_ids=dict((n, v['kvm_auto_range_host_id']) for n, v in inventory.items()
                                    if 'kvm_auto_range_host_id' in v),
            salt=to_text(salt) if salt else _NO_KEY, base_dir=to_text(base_dir) if base_dir else None,
            file_digest=digest, address_prefix=settings.get('address_prefix') or None,
            entry_settings=dict((k, settings[k]) for k in _ENTRY_SETTINGS if k in settings))
        plan['layout'] = host_layout(plan, inventory, settings)
    except RangeError as exc:
        return {'errors': exc.errors, 'range_id': None}
    used = [h['inventory_host'] for h in plan['layout'] if h['used']]
    used_hosts = sorted(set(used), key=used.index)
    plan.update(
        errors=[],
        used_hosts=used_hosts,
        host_dirs=host_dirs(plan['layout']),
        hosts_to_add=[h for h in plan['layout'] if h['add_host'] and h['used']],
        # The controller's own lock covers a KVM host that is the controller itself.
        lock_hosts=[h['inventory_host'] for h in plan['layout'] if h['used'] and not h['local']],
        host_checks=host_checks(used_hosts, settings['uri'], settings['network'],
                                shared_network_hosts=set(vm['inventory_host'] for vm in plan['vms'] if not vm['nics']),
                                route_hosts=set(n['inventory_host'] for n in plan['networks']),
                                access_hosts=set(vm['inventory_host'] for vm in plan['vms'] if vm['trainee']),
                                capacity=capacity_checks(plan['layout'], plan['images'], settings['uri'], settings['build_dir']))
        + base_vm_checks(plan['vms']),
        access_entries=access_entries(plan, inventory, settings.get('trainee_address') or None),
        build_batches=batches([i['name'] for i in plan['images']], settings['build_parallel']),
        images_by_name=dict((i['name'], i) for i in plan['images']),
        summary=summary(plan),
    )
    return plan


def range_public(plan):
    """The plan without the guests' tasks (which hold passwords), safe to show."""
    return public_view(plain(plan))


def range_deploy_steps(plan, build_results, settings, access=None, base_vms=None):
    """Copies, links and each guest's kvm_auto_vm arguments, once the builds, the trainee ports and the
    base VMs of the kvm guests are known."""
    plan = plain(plan)
    settings = plain(settings)
    steps = deploy_steps(plan, plan['layout'], plain(build_results or []), settings['build_dir'], settings['network'],
                         link_local=settings['link_local_images'], same_filesystem=same_filesystem,
                         access=plain(access or []), base_vms=plain(base_vms or []))
    steps['guest_batches'] = _guest_batches(steps['guests'], settings)
    return steps


def _guest_batches(guests, settings):
    found = batches(guests, settings['boot_parallel'])
    for batch in found:
        # The hosts the batch's guests are on: the role waits for them on each host.
        hosts = [g['inventory_host'] for g in batch['members']]
        batch['hosts'] = sorted(set(hosts), key=hosts.index)
        batch['jobs'] = host_jobs(batch['members'])
    return found


def range_reset_steps(plan, instances, settings):
    """The guests a reset of ``instances`` (``all`` or a list) recreates, in batches; ``errors`` when one is unknown."""
    plan = plain(plan)
    names, errors = reset_selection(plan, plain(instances))
    guests = [{'name': vm['name'], 'inventory_host': vm['inventory_host'], 'wait_for': vm.get('wait_for')}
              for vm in plan['vms'] if vm['name'] in names]
    return {'errors': errors, 'guests': guests, 'names': names, 'guest_batches': _guest_batches(guests, plain(settings)),
            'after_clone': after_clone_steps(plan, names)}


def range_job_guests(job, settings, state='running', accounts=None, skip=None):
    """The ``guests`` of kvm_auto_vms for one host's job of a batch (with the trainee accounts of a deploy)."""
    return job_guests(plain(job), plain(settings), state, plain(accounts or {}), plain(skip or []))


def range_host_check_commands(checks, capacity_check=True):
    """One command per KVM host that runs all of its ``host_checks``."""
    return host_check_commands(plain(checks or []), bool(capacity_check))


def range_host_check_results(command_results):
    """The result of each host check, read out of the results of ``range_host_check_commands``."""
    return host_check_results(plain(command_results or []))


def range_access_hosts(check_results):
    """What each entry point's KVM host listens on and runs, for kvm_auto_access's ``hosts``."""
    return access_host_state(plain(check_results or []))


def range_base_vms(check_results):
    """The base VMs of the kvm guests, their XML parsed, from the host checks (see _range_base_vms)."""
    return base_vms(plain(check_results or []))


def range_pending_guests(steps, copy_results=None, link_results=None, check_mode=False, network_results=None):
    """Guests a check-mode run cannot look at yet (their base image or a network is not on their host)."""
    return pending_guests(plain(steps), plain(copy_results or []), plain(link_results or []), check_mode,
                          plain(network_results or []))


def range_changed_items(results, key='name'):
    """The ``key`` of the loop item of every changed result."""
    return changed_items(plain(results or []), key)


def range_report(plan, build_results=None, copy_results=None, link_results=None, vm_results=None):
    """What this run did."""
    return run_report(plain(plan), plain(build_results or []), plain(copy_results or []),
                      plain(link_results or []), plain(vm_results or []))


def range_details(plan, vm_results=None, leases=None, build_results=None, timings=None, access=None):
    """The range details file content from the plan and what the modules returned (and the run's timings)."""
    plan = plain(plan)
    by_name = dict((r['name'], r) for r in plain(vm_results or []) if isinstance(r, dict) and r.get('name'))
    images = {}
    for result in plain(build_results or []):
        if isinstance(result, dict) and result.get('path'):
            images[result['path'].rsplit('/', 1)[-1]] = result
    details = _range_details(plan, by_name, parse_leases(plain(leases or [])), images, plain(access or []))
    if timings:
        details['timings'] = plain(timings)
    return details


def range_timings(ended, plan=None, build=None, copy=None, boot=None):
    """Seconds each phase of a deploy took, from the epoch times the role recorded as each phase started."""
    return phase_timings(ended, {'plan': plan, 'build': build, 'copy': copy, 'create_and_boot': boot})


def range_details_to_write(details, recorded=None):
    """The details file content: the recorded timings are kept when nothing else changed."""
    return details_to_write(plain(details), plain(recorded) if recorded else None)


def range_summary(details, report, details_file, timings=None, check_mode=False, notification_file=None):
    """The lines shown at the end of a deploy (see _range_summary.deploy_summary)."""
    return deploy_summary(plain(details), plain(report), to_text(details_file), plain(timings) if timings else None,
                          bool(check_mode), to_text(notification_file) if notification_file else None)


def range_inventory(details):
    """The deployed guests as in-memory inventory hosts."""
    return inventory_entries(plain(details))


def range_destroy_targets(plan, recorded=None):
    """What destroy removes, with the directories to remove it from."""
    plan = plain(plan)
    targets = destroy_targets(plan, plan['layout'], plain(recorded) if recorded else None)
    # One kvm_auto_vms run per host removes its guests.
    targets['vm_jobs'] = host_jobs(targets['vms'])
    return targets


def range_host_problems(check_results, settings, hostvars=None, networks=None, plan=None, capacity_check=False,
                        overlay_allowance=None, base_vms=None, base_disk_results=None):
    """What the KVM hosts lack, with what to install for each host's OS family; subnets that overlap their routes.

    With ``plan`` and ``capacity_check``, also each host that the range does not fit, counting
    ``overlay_allowance`` per new guest overlay (see _range_capacity). With ``base_vms``
    (range_base_vms) and the results of their disk checks, each base VM that cannot be cloned.
    """
    settings = plain(settings)
    results = plain(check_results or [])
    families = {}
    for host in set((r.get('item') or {}).get('inventory_host') for r in results):
        try:
            families[host] = plain(hostvars[host]['ansible_facts']['os_family'])
        except (KeyError, TypeError):
            continue
    problems = host_problems(results, settings['network'], settings['uri'], families, plain(networks or []))
    bases = plain(base_vms or [])
    if plan and capacity_check:
        plan = plain(plan)
        plan['vms'] = with_base_memory(plan['vms'], bases)
        problems.extend(capacity_problems(plan, results, plain(overlay_allowance)))
    problems.extend(base_vm_problems(bases, plain(base_disk_results or [])))
    return problems


def range_transfers(steps, plan, present_results, settings, hostvars=None):
    """The image copies still to make, in rounds of sends (see _image_transfer.transfer_rounds).

    ``present_results``: the role's stat of each copy's destination (``item``: the copy).
    """
    steps = plain(steps)
    settings = plain(settings)
    present = set()
    for result in plain(present_results or []):
        item = result.get('item')
        if isinstance(item, dict) and (result.get('stat') or {}).get('exists'):
            present.add((item['image'], item['inventory_host']))
    hosts = plain(plan)['layout']
    host_vars = _inventory_vars(hostvars or {}, [h['inventory_host'] for h in hosts], TRANSFER_HOST_VARS)
    return transfer_rounds(steps['copies'], hosts, present, host_vars, bool(settings['copy_fanout']),
                           bool(settings['copy_compression']))


def range_transfer_results(place_results, send_results=None, check_results=None):
    """The results of placing the received images, each with the ``bytes_sent`` of its transfer.

    ``check_results``: async_status of the placements started in the background (their outcome
    replaces the started result of the same send).
    """
    def key(send):
        return (send.get('image'), send.get('inventory_host'))

    def sends(results):
        # An async_status result's item is the started job's result, whose item is the send.
        for result in plain(results or []):
            item = result.get('item')
            if isinstance(item, dict) and 'ansible_job_id' in item:
                item = item.get('item')
            if isinstance(item, dict):
                yield item, result

    sent = dict((key(send), bytes_sent(result.get('stdout'))) for send, result in sends(send_results))
    finished = dict((key(send), result) for send, result in sends(check_results))
    found = []
    for send, result in sends(place_results):
        outcome = dict(finished.get(key(send), result), item=send)
        found.append(dict(outcome, bytes_sent=sent.get(key(send))))
    return found


class FilterModule:
    """The range planner filters."""

    def filters(self):
        return dict((f.__name__, f) for f in (
            range_plan, range_public, range_deploy_steps, range_pending_guests, range_changed_items, range_report, range_details,
            range_inventory, range_destroy_targets, range_host_problems, range_transfers, range_transfer_results,
            range_timings, range_details_to_write, range_summary, range_reset_steps, range_access_hosts, range_base_vms,
            range_job_guests, range_host_check_commands, range_host_check_results))
