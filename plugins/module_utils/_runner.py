# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The one place where the collection's modules run external commands.

Every command is an argument list (never a shell string) run through
``module.run_command``.  Each run is recorded, with every secret replaced by
``********``, so modules can return what they ran; a failed run goes through a
single failure path that names the subject (guest or image) and the field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MASK = '********'

# Failures are recognised by the tools' English messages, so every command runs in the C locale
# unless the caller's environ names a locale itself.
C_LOCALE = {'LC_ALL': 'C', 'LANG': 'C'}


def mask_argv(argv, secrets=()):
    """Return ``argv`` as one display string with every secret masked.

    ``secrets`` are plain values that must never be shown; any argument that
    contains one has that part replaced by ``MASK``.
    """
    shown = []
    for arg in argv:
        text = str(arg)
        for secret in secrets:
            if secret:
                text = text.replace(secret, MASK)
        shown.append(text)
    return ' '.join(_quote(a) for a in shown)


def _quote(arg):
    # Display only: quote arguments holding blanks so a reader can copy them.
    if arg and all(c.isalnum() or c in '@%+=:,./-_*[]' for c in arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


class CommandRunner:
    """Run argument lists for one module and remember what ran (masked)."""

    def __init__(self, module, subject, secrets=(), environ=None):
        self.module = module
        self.subject = subject
        self.secrets = [s for s in secrets if s]
        self.environ = dict(environ or {})
        self.commands = []

    def bin_path(self, name, hint=None):
        """Absolute path of ``name``; fails with what to install when it is missing."""
        path = self.module.get_bin_path(name)
        if not path:
            self.fail('%s: the command %s was not found on %s' % (
                self.subject, name, hint or 'this host'))
        return path

    def run(self, argv, field=None, check_rc=True, data=None, environ=None):
        """Run ``argv``; return (rc, stdout, stderr).

        With ``check_rc`` a non-zero exit fails the module, naming the
        subject and ``field`` (the input the command served).
        """
        env = dict(C_LOCALE)
        env.update(self.environ)
        env.update(environ or {})
        shown = mask_argv(argv, self.secrets)
        self.commands.append(shown)
        rc, out, err = self.module.run_command(
            [str(a) for a in argv], data=data, environ_update=env,
            expand_user_and_vars=False, binary_data=data is not None)
        if check_rc and rc != 0:
            what = ' (%s)' % field if field else ''
            self.fail('%s%s: command failed with rc=%d: %s' % (self.subject, what, rc, shown),
                      rc=rc, stdout=self.scrub(out), stderr=self.scrub(err), cmd=shown)
        return rc, out, err

    def scrub(self, text):
        """``text`` with every secret masked, for messages and return values."""
        for secret in self.secrets:
            if secret and text:
                text = text.replace(secret, MASK)
        return text

    def fail(self, msg, **context):
        """The single failure path of a module using this runner."""
        context.setdefault('commands', list(self.commands))
        self.module.fail_json(msg=self.scrub(msg), **context)
