# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""Trainee passwords: generating them, and the SHA-512 crypt hash (``$6$``) that guests get instead.

``sha512_crypt`` follows Ulrich Drepper's specification "Unix crypt using SHA-256 and SHA-512"
(the algorithm of glibc's ``crypt()`` and of ``openssl passwd -6``) in pure Python: Python's
``crypt`` module is deprecated and gone from Python 3.13.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import secrets

# The alphabet of crypt's base 64 encoding, in its order; salts are made of it too.
CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
SALT_LENGTH = 16
DEFAULT_ROUNDS = 5000
MIN_ROUNDS = 1000
MAX_ROUNDS = 999999999

# Letters and digits without the look-alikes 0/O/o and 1/l/I, so a password read off the
# notification file is typed right.
PASSWORD_ALPHABET = '23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ'

# Which bytes of the final digest each group of four characters encodes (the specification's
# order); the last byte, 63, is encoded alone in two characters.
_DIGEST_ORDER = (
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
    (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
    (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41),
)


def new_password(length):
    """A random password of ``length`` characters of ``PASSWORD_ALPHABET``."""
    return ''.join(secrets.choice(PASSWORD_ALPHABET) for dummy in range(length))


def new_salt():
    """A random salt of the longest length the hash uses."""
    return ''.join(secrets.choice(CRYPT_ALPHABET) for dummy in range(SALT_LENGTH))


def is_salt(text):
    """True when ``text`` is a salt ``sha512_crypt`` uses as it is (1 to 16 crypt characters)."""
    return 1 <= len(text) <= SALT_LENGTH and all(c in CRYPT_ALPHABET for c in text)


def _repeated(data, length):
    """``data`` repeated and cut to ``length`` bytes."""
    return (data * (length // len(data) + 1))[:length]


def _encode(digest):
    chars = []
    for group in _DIGEST_ORDER + ((63,),):
        value = 0
        for index in group:
            value = (value << 8) | digest[index]
        for dummy in range(4 if len(group) == 3 else 2):
            chars.append(CRYPT_ALPHABET[value & 0x3f])
            value >>= 6
    return ''.join(chars)


def sha512_crypt(password, salt, rounds=None):
    """The ``$6$`` crypt hash of ``password`` with ``salt`` (text; its first 16 characters count).

    ``rounds=None`` is the default of 5000 rounds, which the hash does not name (as
    ``openssl passwd -6`` writes it); a number of rounds is kept between 1000 and 999999999 and
    written into the hash as ``rounds=N$``, as the specification does when a salt names it.
    """
    salt = salt[:SALT_LENGTH]
    key = password.encode('utf-8')
    salt_bytes = salt.encode('utf-8')
    count = DEFAULT_ROUNDS if rounds is None else min(max(rounds, MIN_ROUNDS), MAX_ROUNDS)

    alternate = hashlib.sha512(key + salt_bytes + key).digest()
    context = hashlib.sha512(key + salt_bytes)
    context.update(_repeated(alternate, len(key)))
    length = len(key)
    while length:
        context.update(alternate if length & 1 else key)
        length >>= 1
    intermediate = context.digest()

    key_sequence = _repeated(hashlib.sha512(key * len(key)).digest(), len(key))
    salt_sequence = _repeated(hashlib.sha512(salt_bytes * (16 + intermediate[0])).digest(), len(salt_bytes))

    for number in range(count):
        context = hashlib.sha512(key_sequence if number & 1 else intermediate)
        if number % 3:
            context.update(salt_sequence)
        if number % 7:
            context.update(key_sequence)
        context.update(intermediate if number & 1 else key_sequence)
        intermediate = context.digest()

    prefix = '$6$' if rounds is None else '$6$rounds=%d$' % count
    return '%s%s$%s' % (prefix, salt, _encode(intermediate))
