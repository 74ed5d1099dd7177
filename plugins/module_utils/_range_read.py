# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Reading a CyRIS range description: YAML text or parsed data within limits, then its three
sections, in list form or mapping form."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible_collections.cyris.kvm_auto.plugins.module_utils._range_checker import (
    MAX_DEPTH, MAX_VALUES, TOO_DEEP, TOO_MANY_VALUES, RangeError, kind_of, plain, show)

SECTIONS = ('host_settings', 'guest_settings', 'clone_settings')
# A range file of a hundred guests with their tasks is well under 100 KiB.
MAX_TEXT_LENGTH = 1024 * 1024


def load_range(data):
    """The range description as plain data (dict, list, str, int, float, bool, None).

    ``data``: YAML text (str or UTF-8 bytes), or data already parsed (role variables, whose
    values may be shared references). Raise RangeError with one message when the text is
    not safe YAML, longer than MAX_TEXT_LENGTH characters (or bytes), or the data hold more
    than MAX_VALUES values or MAX_DEPTH levels once aliases are expanded. Those bounds are
    checked while the YAML is parsed and while the data are copied, never after an expansion.
    """
    if isinstance(data, (bytes, bytearray)):
        if len(data) > MAX_TEXT_LENGTH:
            raise RangeError([_too_long(len(data), 'bytes')])
        try:
            data = bytes(data).decode('utf-8')
        except UnicodeDecodeError as exc:
            raise RangeError(['the range description is not UTF-8 text (byte %d)' % exc.start]) from None
    if isinstance(data, str):
        if len(data) > MAX_TEXT_LENGTH:
            raise RangeError([_too_long(len(data), 'characters')])
        data = _parse_yaml('%s' % data)
    return plain(data)


def _too_long(length, unit):
    return 'the range description is %d %s long; at most %d are read' % (length, unit, MAX_TEXT_LENGTH)


# PyYAML is imported where it is used, not at the top: only the controller reads range files
# (ansible-core needs PyYAML there), while module_utils must import on targets without it.

def _yaml_loader():
    """PyYAML's safe loader, libyaml's when there: the pure Python one needs seconds for a large file."""
    import yaml
    return getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


def _parse_yaml(text):
    import yaml
    loader = _yaml_loader()
    try:
        _check_expansion(yaml.parse(text, Loader=loader))
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = ' at line %d column %d' % (mark.line + 1, mark.column + 1) if mark else ''
        problem = getattr(exc, 'problem', None) or getattr(exc, 'reason', None) or 'not valid YAML'
        raise RangeError(['the range description is not valid YAML%s: %s' % (where, problem)]) from None
    except RangeError:
        raise
    except ValueError as exc:
        # Python refuses to read an integer of thousands of digits.
        raise RangeError(['the range description is not valid YAML: %s' % exc]) from None


def _check_expansion(events):
    """Count the values and levels of the YAML events as they are parsed, an alias as its
    anchored node in full; raise RangeError as soon as a bound is passed."""
    import yaml
    values = 0
    anchored = {}  # anchor -> (values, levels) of its node
    # One frame per open collection: [values before it, its anchor, its depth, deepest level inside].
    frames = []
    for event in events:
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            before, anchor, depth, deepest = frames.pop()
            if anchor is not None:
                anchored[anchor] = (values - before, deepest - depth + 1)
            if frames:
                frames[-1][3] = max(frames[-1][3], deepest)
            continue
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in anchored:
                size, levels = anchored[event.anchor]
            elif any(frame[1] == event.anchor for frame in frames):
                raise RangeError(['the range description refers to itself: alias *%s at %s is inside the node it '
                                  'names' % (event.anchor, _where(event))])
            else:
                continue  # an undefined alias: the loader reports it
        elif isinstance(event, yaml.NodeEvent):
            size, levels = 1, 1
            if event.anchor is not None and isinstance(event, yaml.ScalarEvent):
                anchored[event.anchor] = (1, 1)
        else:
            continue
        values += size
        reach = len(frames) + levels
        if values > MAX_VALUES:
            raise RangeError(['%s (reached at %s)' % (TOO_MANY_VALUES, _where(event))])
        if reach > MAX_DEPTH:
            raise RangeError(['%s (reached at %s)' % (TOO_DEEP, _where(event))])
        if frames:
            frames[-1][3] = max(frames[-1][3], reach)
        if isinstance(event, yaml.CollectionStartEvent):
            frames.append([values - 1, event.anchor, reach, reach])


def _where(event):
    return 'line %d column %d' % (event.start_mark.line + 1, event.start_mark.column + 1)


def split_sections(data, chk, variables=False):
    """The three sections of a range in list form or mapping form.

    Returns a dict section -> raw value (missing sections absent).
    """
    sections = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key not in SECTIONS:
                chk.error('', 'unknown top-level key %s (known: %s)' % (show('%s' % key), ', '.join(SECTIONS)))
            else:
                sections[key] = value
    elif isinstance(data, list):
        for pos, item in enumerate(data):
            place = '[%d]' % pos
            if not isinstance(item, Mapping) or len(item) != 1:
                chk.error(place, 'expected a single-key mapping such as {host_settings: [...]}, got %s' % (
                    kind_of(item) if not isinstance(item, Mapping) else 'a mapping with %d keys' % len(item)))
                continue
            key = list(item)[0]
            if key not in SECTIONS:
                chk.error(place, 'unknown section %s (known: %s)' % (show('%s' % key), ', '.join(SECTIONS)))
            elif key in sections:
                chk.error(place, 'section %s appears twice' % key)
            else:
                sections[key] = item[key]
    else:
        chk.error('', 'a range description is a list of host_settings, guest_settings and clone_settings, '
                      'or a mapping with those keys; got %s' % kind_of(data))
        return sections
    if 'guest_settings' not in sections:
        chk.error('', 'missing section guest_settings')
    if 'host_settings' not in sections and not variables:
        chk.error('', 'missing section host_settings')
    return sections
