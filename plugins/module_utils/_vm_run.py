# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""One run of kvm_auto_vm: inspect, compare once, act on the difference, report.

``VmRun(module).run()`` is the whole module; ``apply()`` is the same run returning the result
(kvm_auto_vms runs one per guest, see _vm_batch).  Reading is done in check mode too; every
change (disk, definition, run state) is an action of ``_vm_compare.plan_actions`` and is
skipped in check mode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import fcntl
import os
import tempfile

from ansible_collections.cyris.kvm_auto.plugins.module_utils._files import file_identity
from ansible_collections.cyris.kvm_auto.plugins.module_utils._host_ports import read_listening_tcp_ports
from ansible_collections.cyris.kvm_auto.plugins.module_utils._runner import CommandRunner
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_compare import (
    DEFINITION_FIELDS, FIELDS, current_view, desired_view, differences, kept_macs, plan_actions,
    public_interfaces, reset_diff, restart_required)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_access import (
    AccessError, placed, placement_ok)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_disk import (
    create_guest_disk, image_info_argv, parse_image_info, remove_disks, target_size)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_identity import (
    identity_file_path, set_identity, write_identity_file)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_libvirt import (
    Libvirt, patch_domain_xml, remove_console_log, remove_identity_file)
from ansible_collections.cyris.kvm_auto.plugins.module_utils._vm_spec import (
    METADATA_NS, VmError, complete_guest, desired_guest, osinfo_list_argv, parse_osinfo_list, resolve_osinfo, set_metadata,
    virt_install_argv)


# virt-install defines a libvirt storage pool for a disk's directory the first time it meets it;
# two renders at once then collide ("pool ... already exists"). One render at a time on a host,
# across the threads of kvm_auto_vms and across processes: a render is short beside a boot.
RENDER_LOCK = os.path.join(tempfile.gettempdir(), 'cyris-kvm-auto-virt-install.lock')


@contextlib.contextmanager
def render_lock(path=RENDER_LOCK):
    """Hold the host's virt-install lock (a flock: each holder opens the file itself, so threads exclude each other too)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        # A lock file of another user that this one cannot open: render without it.
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class VmRun:
    """Bring one guest to the state the module parameters ask for."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params['name']
        trainee = self.params.get('trainee') or {}
        # Every message and command shown goes through the runner, which masks the hash.
        self.runner = CommandRunner(module, 'guest %s' % self.name, secrets=[trainee.get('password_hash')])
        self.libvirt = None
        self.osinfo = None
        self.osinfo_warning = None
        self.base_info = None
        # state=reset: the overlay to make anew, as creation made it, and its base's qemu-img info
        self.reset_disk = None
        self.reset_base_info = None

    # ---- entry point -------------------------------------------------------------------

    def run(self):
        self.module.exit_json(**self.apply())

    def apply(self):
        """The guest's result, with the commands run; an error fails through the runner (``module.fail_json``)."""
        result = None
        try:
            desired = desired_guest(self.params)
            self.libvirt = Libvirt(self.params['uri'])
            try:
                result = self._run(desired)
            finally:
                self.libvirt.close()
        except VmError as exc:
            self.runner.fail('guest %s: %s' % (self.name, exc), **exc.context)
        result['commands'] = list(self.runner.commands)
        return result

    def _run(self, desired):
        dom = self.libvirt.lookup(self.name)
        current = self.libvirt.inspect(dom) if dom is not None else None
        if current is not None and current['ours'] is None:
            raise VmError('a domain with this name exists in libvirt but cyris.kvm_auto did not create it '
                          '(no <metadata> in namespace %s); refusing to manage it' % METADATA_NS)
        if current is not None:
            self.osinfo = current['ours']['osinfo']
        state = self.params['state']
        if state == 'reset' and current is None:
            raise VmError('the domain does not exist in libvirt (%s): deploy it before resetting it' % self.params['uri'])
        # Compared: what the user set.  Used from here on: the complete guest, where what was
        # left unset is the defined domain's own (or, for a new domain, the default).
        guest = complete_guest(desired, current)
        if state == 'absent':
            fields = []
            actions = plan_actions(state, current, fields, False, False, False)
        else:
            fields = list(FIELDS) if current is None else differences(desired, current)
            disk_exists = os.path.exists(guest['disk'])
            actions = plan_actions(state, current, fields, self.params['recreate'], disk_exists, guest['autostart'])
            self._preflight(guest, current, fields, actions)
        diff = {'before': current_view(current), 'after': desired_view(guest, current, state)}
        if state == 'reset':
            diff = reset_diff(diff, current['ours']['image'])
        restart = restart_required(actions, current)
        if restart:
            self.module.warn('guest %s: the change of %s applies at the next boot of the running guest (restart_required)' % (
                self.name, ', '.join(f for f in fields if f in DEFINITION_FIELDS)))
        if self.osinfo_warning:
            self.module.warn('guest %s: %s' % (self.name, self.osinfo_warning))
        if self.module.check_mode:
            return self._result(current, guest, diff, actions, restart, dom=None if actions else dom)
        if actions:
            dom = self._act(guest, dom, current, fields, actions)
        if state in ('running', 'reset') and self.params['wait_for'] != 'none':
            self._wait(dom, guest)
        return self._result(current, guest, diff, actions, restart, dom=dom)

    # ---- checks that hold in check mode too -----------------------------------------------

    def _preflight(self, desired, current, fields, actions):
        """Fail before any change when the asked guest cannot be made; resolve osinfo."""
        self._check_base_unchanged(current)
        if 'create_disk' in actions:
            self._check_image(desired)
        if 'define' in actions or 'redefine' in actions:
            recorded = current['ours']['osinfo'] if current else None
            if recorded and not (self.params['osinfo'] and self.params['osinfo'] != recorded):
                self.osinfo = recorded
            else:
                self._resolve_osinfo()
        if current is not None and self.params['image'] and current['ours']['image'] \
                and 'create_disk' not in actions and current['ours']['image'] != self.params['image']:
            self.module.warn('guest %s: its disk was created from %s; image %s is only used when the disk is created' % (
                self.name, current['ours']['image'], self.params['image']))
        starting = 'start' in actions
        if starting or 'interfaces' in fields:
            self._check_networks(desired, starting)
        if self.params['access'] is not None:
            self._check_access_port(desired['access'], current)
        if 'recreate_disk' in actions:
            self._prepare_reset(desired, current)

    def _check_access_port(self, access, current):
        """Fail when the access port is taken on this host by anything but this guest's own QEMU."""
        live = current['live_access'] if current else None
        if live is not None and live['port'] == access['port']:
            return
        if access['port'] in read_listening_tcp_ports():
            raise VmError('access port %d is already in use on this host: choose another port '
                          '(kvm_auto_range_trainee_ports)' % access['port'])

    def _prepare_reset(self, desired, current):
        """Check that the guest disk is an overlay of ours; note how to make it anew."""
        ours = current['ours']
        disk = desired['disk']
        if not any(d['path'] == disk and d['mode'] == 'overlay' for d in ours['disks']) or not ours['image']:
            raise VmError('state=reset needs a guest disk that kvm_auto_vm created as an overlay (disk_mode=overlay); '
                          'the disk %s is not one' % disk)
        qemu_img = self.runner.bin_path('qemu-img', hint='this host (install qemu-utils)')
        base_info = self._image_info(qemu_img, ours['image'])
        size = base_info['virtual_size']
        if os.path.exists(disk):
            size = self._image_info(qemu_img, disk)['virtual_size']
        elif self.params['disk_size']:
            size = desired['disk_size']
        self.reset_base_info = base_info
        self.reset_disk = {'disk': disk, 'image': ours['image'], 'disk_mode': 'overlay',
                           'disk_dir': os.path.dirname(disk), 'disk_size': size}

    def _image_info(self, qemu_img, path):
        rc, out, err = self.runner.run(image_info_argv(qemu_img, path), field='image=%s' % path)
        try:
            return parse_image_info(out)
        except (ValueError, KeyError) as exc:
            raise VmError('image %s: cannot read qemu-img info: %s' % (path, exc))

    def _check_base_unchanged(self, current):
        """Fail when the base image under this guest's overlay was replaced or removed.

        An overlay holds only the blocks that differ from its base: on another base it is a
        corrupt disk, which the guest would only show at its next boot.
        """
        ours = current['ours'] if current else None
        if not ours or not ours['image_identity']:
            return
        overlays = [d['path'] for d in ours['disks'] if d['mode'] == 'overlay' and os.path.exists(d['path'])]
        if not overlays:
            return
        image = ours['image']
        remedy = ('put the original image back, or remove the guest (state=absent) and create it again '
                  'on the new image')
        try:
            now = file_identity(image)
        except OSError:
            raise VmError('image %s, the base of the overlay disk %s, is missing: %s' % (image, overlays[0], remedy))
        if now != ours['image_identity']:
            was = ours['image_identity']
            raise VmError('image %s was replaced after the overlay disk %s was made on it (size %d, mtime_ns %d then; '
                          'size %d, mtime_ns %d now): the overlay holds only the blocks that differ from the old '
                          'image, so the guest disk is no longer consistent; %s' % (
                              image, overlays[0], was['size'], was['mtime_ns'], now['size'], now['mtime_ns'], remedy))

    def _check_image(self, desired):
        image = desired['image']
        if not image:
            raise VmError('image is required to create the guest disk %s' % desired['disk'])
        if not os.path.isfile(image):
            raise VmError('image %s not found' % image)
        if os.path.realpath(image) == os.path.realpath(desired['disk']):
            raise VmError('image %s is the guest disk path itself; choose another disk_dir' % image)
        if not os.path.isdir(desired['disk_dir']):
            raise VmError('disk_dir %s does not exist' % desired['disk_dir'])
        qemu_img = self.runner.bin_path('qemu-img', hint='this host (install qemu-utils)')
        self.base_info = self._image_info(qemu_img, image)
        target_size(desired['disk_size'], self.base_info)

    def _resolve_osinfo(self):
        requested = self.params['osinfo']
        known = ()
        if requested is not None:
            # Once per run: the list only serves to check the one name asked for.
            virt_install = self.runner.bin_path('virt-install', hint='this host (install virtinst)')
            rc, out, err = self.runner.run(osinfo_list_argv(virt_install), field='osinfo=%s' % requested)
            known = parse_osinfo_list(out)
        self.osinfo, self.osinfo_warning = resolve_osinfo(requested, self.params['osinfo_fallback'], known)

    def _check_networks(self, desired, starting):
        for index, nic in enumerate(desired['interfaces']):
            if not nic.get('network'):
                continue
            active = self.libvirt.network_active(nic['network'])
            if active is None:
                raise VmError('networks[%d].network %s is not a libvirt network on %s' % (index, nic['network'], self.params['uri']))
            if starting and not active:
                raise VmError('networks[%d].network %s is not active (virsh net-start %s)' % (index, nic['network'], nic['network']))

    # ---- actions ----------------------------------------------------------------------------

    def _render(self, desired, current, own_devices):
        """Domain XML of ``desired`` from virt-install (the one producer of domain XML)."""
        virt_install = self.runner.bin_path('virt-install', hint='this host (install virtinst)')
        argv = virt_install_argv(desired, self.osinfo, virt_install,
                                 uuid=current['uuid'] if current else None,
                                 macs=kept_macs(desired, current), own_devices=own_devices)
        with render_lock():
            rc, out, err = self.runner.run(argv, check_rc=False)
        if rc != 0:
            # Raised, not failed: a disk created just before must be removed on the way out.
            raise VmError('virt-install could not render the domain (rc=%d): %s' % (rc, (err or out).strip()),
                          rc=rc, stdout=out, stderr=err, cmd=self.runner.commands[-1])
        return out

    def _act(self, desired, dom, current, fields, actions):
        ours = dict(current['ours']) if current else {
            'image': desired['image'], 'image_format': None, 'image_identity': None, 'osinfo': self.osinfo, 'disks': []}
        ours['disks'] = list(ours['disks'])
        created_disk = None
        created_identity = None
        defined = False
        try:
            if 'create_disk' in actions:
                qemu_img = self.runner.bin_path('qemu-img', hint='this host (install qemu-utils)')
                # Recorded before the disk is made: a base replaced from then on is caught.
                ours.update(image=desired['image'], image_format=self.base_info.get('format'),
                            image_identity=file_identity(desired['image']))
                create_guest_disk(self.runner, qemu_img, desired, self.base_info)
                created_disk = desired['disk']
                ours['disks'].append({'path': created_disk, 'mode': desired['disk_mode']})
            xml = None
            if 'define' in actions:
                ours['osinfo'] = self.osinfo
                # A recreated domain keeps its UUID and MACs; virt-install must not count them as taken.
                xml = set_metadata(self._render(desired, current, own_devices=current is not None), ours)
            elif 'redefine' in actions:
                fresh = self._render(desired, current, own_devices=True)
                definition = [f for f in fields if f in DEFINITION_FIELDS]
                xml = set_metadata(patch_domain_xml(current['xml'], fresh, definition), ours)
            if xml is not None and desired['identity'] is not None:
                # virt-install cannot render it; the rest of the definition is kept as it is. The
                # file is written first: QEMU reads it when the guest starts.
                path = identity_file_path(desired['disk_dir'], self.name)
                if not os.path.exists(path):
                    created_identity = path
                write_identity_file(path, desired['identity'])
                xml = set_identity(xml, path)
            keep_slot = current['access']['slot'] if current and current['access'] else None
            for action in actions:
                if action == 'destroy':
                    self.libvirt.destroy(dom)
                elif action == 'undefine':
                    self.libvirt.undefine(dom, current['xml'])
                elif action == 'remove_disks':
                    protected = [current['ours']['image'], self.params['image']]
                    remove_disks([d['path'] for d in current['ours']['disks']], protected)
                    remove_console_log(current['console_log'], desired['console_log'])
                    remove_identity_file(current['identity_file'], identity_file_path(desired['disk_dir'], self.name))
                elif action in ('define', 'redefine'):
                    dom = self._define(xml, desired['access'], keep_slot)
                    defined = True
                elif action == 'recreate_disk':
                    qemu_img = self.runner.bin_path('qemu-img', hint='this host (install qemu-utils)')
                    create_guest_disk(self.runner, qemu_img, self.reset_disk, self.reset_base_info)
                elif action == 'autostart':
                    self.libvirt.set_autostart(dom, desired['autostart'])
                elif action == 'start':
                    self.libvirt.start(dom)
                elif action == 'resume':
                    self.libvirt.resume(dom)
                elif action == 'stop' and self.libvirt.stop(dom, self.params['wait_timeout']):
                    self.module.warn('guest %s: did not shut down within wait_timeout=%d s; powered off' % (
                        self.name, self.params['wait_timeout']))
        except (VmError, OSError) as exc:
            if created_disk and not defined:
                remove_disks([created_disk], [desired['image']])
            if created_identity and not defined:
                remove_identity_file(created_identity, created_identity)
            if isinstance(exc, OSError):
                raise VmError('%s: %s' % (getattr(exc, 'filename', None) or desired['disk'], exc.strerror or exc))
            raise
        return dom

    def _define(self, xml, access, keep_slot):
        """Define ``xml`` with the access NIC at a root-bus slot that the definition libvirt keeps
        leaves free: libvirt places its own devices at define time, and does not know ours."""
        if access is None:
            return self.libvirt.define(xml)
        for dummy in range(3):
            try:
                xml = placed(xml, access, keep_slot)
            except AccessError as exc:
                raise VmError(str(exc))
            dom = self.libvirt.define(xml)
            xml = self.libvirt.definition(dom)
            if placement_ok(xml, access):
                return dom
            keep_slot = None
        raise VmError('libvirt did not keep the access NIC (<qemu:commandline> -netdev/-device %s) in the definition '
                      'at a free PCI slot of the root bus' % access['mac'])

    def _wait(self, dom, desired):
        timeout = self.params['wait_timeout']
        if self.params['wait_for'] == 'agent':
            self.libvirt.wait_agent(dom, timeout)
        else:
            log = self.libvirt.inspect(dom)['console_log'] or desired['console_log']
            self.libvirt.wait_console(dom, log, self.params['console_pattern'], timeout)

    # ---- result -----------------------------------------------------------------------------

    def _result(self, current, desired, diff, actions, restart, dom):
        result = {
            'changed': bool(actions),
            'name': self.name,
            'created': 'define' in actions,
            'reset': self.params['state'] == 'reset',
            'restart_required': restart,
            'osinfo': self.osinfo,
            'diff': diff,
        }
        if dom is not None and 'undefine' in actions and 'define' not in actions:
            dom = None
        if dom is not None:
            now = self.libvirt.inspect(dom)
            result.update(uuid=now['uuid'], state=now['state'], disks=now['disks'],
                          interfaces=public_interfaces(now['interfaces']), console_log=now['console_log'],
                          access=now['access'])
        elif self.params['state'] == 'absent':
            result.update(uuid=None, state='absent', disks=[], interfaces=[], console_log=None, access=None)
        else:
            # Check mode: what the run would leave.
            after = diff['after']
            result.update(uuid=current['uuid'] if current else None, state=after['state'],
                          disks=[after['disk']], interfaces=after['interfaces'], access=after['access'],
                          console_log=current['console_log'] if current else desired['console_log'])
        return result
