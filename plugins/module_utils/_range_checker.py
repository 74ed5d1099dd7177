# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Collecting every problem of a range description with its place, and typed field readers.

``Checker`` records errors (``place: text``) instead of raising, so validation reports every
problem of a description at once; ``RangeError`` carries them to the caller."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections.abc import Mapping, Sequence

# The one mask of the collection, shown wherever a secret would be.
from ansible_collections.cyris.kvm_auto.plugins.module_utils._runner import MASK

_TEXT_TYPES = (str,)
TEXT_TYPES = _TEXT_TYPES


class RangeError(ValueError):
    """A range description that cannot be deployed; ``errors`` lists every problem."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(RangeError, self).__init__(self.message())

    def message(self):
        return 'the range description has %d error%s:\n- %s' % (
            len(self.errors), '' if len(self.errors) == 1 else 's', '\n- '.join(self.errors))


# Bounds on a description once YAML aliases (or references shared in role variables) are
# expanded, so that a small file cannot make validation copy an exponential graph. A large
# real range (a hundred guests with their tasks) holds a few thousand values, nested about
# ten levels deep; these bounds are far above that and cost well under a second to reach.
MAX_VALUES = 200000
MAX_DEPTH = 64
TOO_MANY_VALUES = ('the range description holds more than %d values once YAML aliases and shared '
                   'references are expanded' % MAX_VALUES)
TOO_DEEP = 'the range description nests more than %d levels deep once YAML aliases and shared references are expanded' % MAX_DEPTH


def plain(value):
    """``value`` as plain dict/list/str/int data (Ansible hands over tagged or lazy subclasses).

    Every value is counted as it is copied, each use of a shared one in full: more than
    MAX_VALUES values or MAX_DEPTH levels raise RangeError before the copy grows further.
    """
    return _plain(value, [MAX_VALUES], 1)


def _plain(value, budget, depth):
    budget[0] -= 1
    if budget[0] < 0:
        raise RangeError([TOO_MANY_VALUES])
    if depth > MAX_DEPTH:
        raise RangeError([TOO_DEEP])
    if isinstance(value, Mapping):
        return dict((_plain(k, budget, depth + 1), _plain(v, budget, depth + 1)) for k, v in value.items())
    if isinstance(value, _TEXT_TYPES):
        return '%s' % value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Sequence):
        return [_plain(v, budget, depth + 1) for v in value]
    return value


def show(value):
    """A short display of a (non-secret) value for a message."""
    if isinstance(value, _TEXT_TYPES):
        text = value if len(value) <= 200 else value[:197] + '...'
        return "'%s'" % text.replace('\n', '\\n')
    if isinstance(value, Mapping):
        return 'a mapping'
    if isinstance(value, (list, tuple)):
        return 'a list'
    return '%r' % (value,)


def kind_of(value):
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, int):
        return 'an integer'
    if isinstance(value, float):
        return 'a number'
    if isinstance(value, _TEXT_TYPES):
        return 'a string'
    if isinstance(value, Mapping):
        return 'a mapping'
    if isinstance(value, (list, tuple)):
        return 'a list'
    if value is None:
        return 'empty (null)'
    return 'a %s' % type(value).__name__


class Checker:
    """Collects every error with its place; scrubs secrets as a second guard."""

    def __init__(self):
        self.errors = []
        self.warnings = []
        self.secrets = set()

    def error(self, place, text):
        self.errors.append('%s: %s' % (place, text) if place else text)

    def warn(self, place, text):
        self.warnings.append('%s: %s' % (place, text) if place else text)

    def scrubbed(self, messages):
        # Message texts never show secret fields; this also hides a password that happens
        # to equal some other value shown (short ones would mangle every message).
        secrets = sorted((s for s in self.secrets if len(s) >= 4), key=len, reverse=True)
        out = []
        for msg in messages:
            for secret in secrets:
                msg = msg.replace(secret, MASK)
            out.append(msg)
        return out

    def raise_if_errors(self):
        if self.errors:
            raise RangeError(self.scrubbed(self.errors))

    # ---- typed field readers: each returns the value or None after recording an error

    def mapping(self, place, value):
        if not isinstance(value, Mapping):
            self.error(place, 'expected a mapping, got %s' % kind_of(value))
            return None
        return value

    def sequence(self, place, value, allow_empty=False):
        if not isinstance(value, list):
            self.error(place, 'expected a list, got %s' % kind_of(value))
            return None
        if not value and not allow_empty:
            self.error(place, 'the list is empty')
            return None
        return value

    def unknown_keys(self, place, item, allowed, note=''):
        for key in item:
            if key not in allowed:
                self.error(place, 'unknown key %s%s (known: %s)' % (show('%s' % key), note, ', '.join(allowed)))

    def required(self, place, item, key):
        if key not in item or item[key] is None or item[key] == '':
            self.error(place, 'missing required key %s' % key)
            return False
        return True

    def text(self, place, value, pattern=None, what=None, secret=False):
        if isinstance(value, bool) or not isinstance(value, _TEXT_TYPES + (int,)):
            self.error(place, 'expected a string, got %s' % kind_of(value))
            return None
        value = '%s' % value
        if secret:
            return value
        if pattern is not None and not pattern.match(value):
            self.error(place, '%s is not %s' % (show(value), what))
            return None
        return value

    def integer(self, place, value, bounds, unit=''):
        number = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, _TEXT_TYPES) and re.match(r'^[0-9]+$', value.strip()):
            if len(value.strip()) > 100:
                # int() refuses thousands of digits; so many are out of range anyway.
                self.error(place, '%s is out of range: %d to %d%s' % (show(value.strip()), bounds[0], bounds[1], unit))
                return None
            number = int(value)
        if number is None:
            self.error(place, '%s is not an integer' % show(value))
            return None
        if not bounds[0] <= number <= bounds[1]:
            self.error(place, '%d is out of range: %d to %d%s' % (number, bounds[0], bounds[1], unit))
            return None
        return number

    def choice(self, place, value, choices):
        if not isinstance(value, _TEXT_TYPES) or value not in choices:
            self.error(place, '%s is not one of %s' % (show(value), ', '.join(choices)))
            return None
        return value

    def boolean(self, place, value):
        if isinstance(value, bool):
            return value
        if isinstance(value, _TEXT_TYPES) and value.lower() in ('yes', 'true', 'no', 'false'):
            return value.lower() in ('yes', 'true')
        self.error(place, '%s is not a boolean' % show(value))
        return None
