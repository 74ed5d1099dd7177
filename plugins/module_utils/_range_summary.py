# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The end of a deploy: how long each phase took, and the short summary the role shows."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.cyris.kvm_auto.plugins.module_utils._wait_progress import format_duration

# The role's phases in the order they run, with the name each has in the summary.
PHASES = (('plan', 'plan'), ('build', 'build'), ('copy', 'copy'), ('create_and_boot', 'create+boot'))


def _iso(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def phase_timings(ended, starts):
    """Seconds each phase took, from the time each started and the time the deploy ``ended``.

    ``starts``: phase name (of PHASES) -> epoch seconds when it started, None for a phase that did
    not run (left out by tags); a phase lasts until the next phase that ran. Returns
    {started, ended, plan, build, copy, create_and_boot, total}, seconds rounded to 0.1.
    """
    ended = float(ended)
    known = [(name, float(starts[name])) for name, dummy in PHASES if starts.get(name) not in (None, '')]
    timings = dict((name, None) for name, dummy in PHASES)
    for position, (name, start) in enumerate(known):
        until = known[position + 1][1] if position + 1 < len(known) else ended
        timings[name] = round(until - start, 1)
    first = known[0][1] if known else ended
    timings.update(started=_iso(first), ended=_iso(ended), total=round(ended - first, 1))
    return timings


def details_to_write(details, recorded):
    """The details file content: ``details``, but with the ``recorded`` file's timings when nothing else
    differs, so that a run which changes nothing leaves the file unchanged."""
    if not isinstance(recorded, dict) or 'timings' not in recorded:
        return details
    others = dict((k, v) for k, v in details.items() if k != 'timings')
    if others != dict((k, v) for k, v in recorded.items() if k != 'timings'):
        return details
    kept = dict(details)
    kept['timings'] = recorded['timings']
    return kept


def _guest_line(domain):
    addresses = [i['address'] for i in domain.get('interfaces') or () if i.get('address')]
    return '%s (%s): %s%s' % (domain['name'], domain['guest'], domain.get('state') or 'not created',
                              ', ' + ', '.join(addresses) if addresses else ', no address known')


def _change_text(item):
    """An image built (its name), or one copy: image -> host, with the bytes sent and the sender when known."""
    if isinstance(item, str):
        return item
    text = '%s -> %s' % (item['image'], item['inventory_host'])
    if item.get('bytes_sent') is not None:
        text += ' (%.1f MB from %s)' % (item['bytes_sent'] / 1e6, item.get('from'))
    return text


def _changes(report):
    parts = []
    for key, verb in (('built', 'built'), ('copied', 'copied'), ('linked', 'linked')):
        items = report.get(key) or ()
        if items:
            parts.append('%s %s' % (verb, ', '.join(_change_text(i) for i in items)))
    created = report.get('created') or []
    if created:
        parts.append('created %s' % ', '.join(created))
    changed = [g for g in report.get('changed_guests') or () if g not in created]
    if changed:
        parts.append('changed %s' % ', '.join(changed))
    return parts


def deploy_summary(details, report, details_file, timings=None, check_mode=False, notification_file=None):
    """Lines the role shows at the end of a deploy: each host's instances and guests (state and
    addresses), each trainee's login, what this run changed, the files and the time of each phase."""
    lines = ['range %s%s' % (details['range_id'], ' (check mode: nothing was changed)' if check_mode else '')]
    hosts = []
    domains = {}
    for guest in details.get('guests') or ():
        for domain in guest.get('domains') or ():
            host = domain['inventory_host']
            if host not in hosts:
                hosts.append(host)
            domains.setdefault(host, {}).setdefault(domain.get('instance'), []).append(domain)
    for host in hosts:
        lines.append('host %s' % host)
        instances = domains[host]
        for instance in sorted(instances, key=lambda i: (i is None, i)):
            indent = '  '
            if instance is not None:
                lines.append('  instance %s' % instance)
                indent = '    '
            lines.extend(indent + _guest_line(d) for d in instances[instance])
            lines.extend('%strainee login: ssh %s@%s -p %s' % (indent, d['trainee_access']['account'],
                                                               d['trainee_access']['address'], d['trainee_access']['port'])
                         for d in instances[instance] if d.get('trainee_access'))
    changes = _changes(report)
    lines.append('%s: %s' % ('would change' if check_mode else 'changed in this run',
                             '; '.join(changes) if changes else 'nothing'))
    lines.append('details file: %s%s' % (details_file, ' (not written in check mode)' if check_mode else ''))
    if notification_file and any(d.get('trainee_access') for g in details.get('guests') or ()
                                 for d in g.get('domains') or ()):
        lines.append('trainee passwords: %s (mode 0600)' % notification_file)
    if timings:
        spent = ['%s %s' % (label, format_duration(timings[name]))
                 for name, label in PHASES if timings.get(name) is not None]
        spent.append('total %s' % format_duration(timings['total']))
        lines.append('time: %s' % ', '.join(spent))
    return lines
