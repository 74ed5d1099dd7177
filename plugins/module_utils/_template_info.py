# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The kvm_auto_template_info module: the templates virt-builder offers, read the way kvm_auto_image reads them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_requirements import install_hint
from ansible_collections.cyris.kvm_auto.plugins.module_utils._runner import CommandRunner
from ansible_collections.cyris.kvm_auto.plugins.module_utils._virt_builder import (
    TemplateError, parse_template_list, virt_builder_environment, virt_builder_list_argv)

INSTALL_HINT = 'this host: ' + install_hint('virt-builder')


def run_module(module):
    """List the templates; never changes anything, so check mode runs it too."""
    params = module.params
    environ = virt_builder_environment(params['virt_builder_config_dir'], params['environment'])
    runner = CommandRunner(module, 'virt-builder templates', environ=environ)
    binary = runner.bin_path('virt-builder', INSTALL_HINT)
    dummy, out, dummy2 = runner.run(virt_builder_list_argv(binary, params['sources'], params['check_signature']),
                                    field='virt_builder_config_dir')
    try:
        listing = parse_template_list(out)
    except TemplateError as exc:
        runner.fail('virt-builder templates: %s' % exc, cmd=runner.commands[-1])
    module.exit_json(changed=False, templates=listing['templates'], sources=listing['sources'],
                     commands=runner.commands)
