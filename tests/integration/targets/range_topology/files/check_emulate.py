# SPDX-License-Identifier: GPL-3.0-or-later
"""Check the server's emulate_attack and emulate_traffic_capture_file tasks from inside its clones.

    check_emulate.py DETAILS_FILE

Each srv clone: its authentication log holds exactly ATTEMPTS failed logins as root from the
firewall of its instance (the first guest sharing a network with it), whatever the number of
deploys; the capture file is there with mode 0644, and tcpdump on the host reads it: attack
packets (attack_source and port 22) and noise (not port 22). Exits 1 when any check fails.
"""
import base64
import subprocess
import sys
import tempfile

import yaml

from guest_exec import run

ATTEMPTS = 5
ACCOUNT = 'root'
CAPTURE = '/var/lib/range-capture/traffic.pcap'
ATTACK_SOURCE = '69.89.31.226'
# Debian 12 logs sshd to the journal; an image with only syslog has /var/log/auth.log.
AUTH_LOG = ('if command -v journalctl >/dev/null; then journalctl -u ssh.service -o cat --no-pager; '
            'else cat /var/log/auth.log; fi')
failures = []


def check(what, ok, detail=''):
    print('%s  %s%s' % ('ok  ' if ok else 'FAIL', what, (': ' + detail.strip()[-500:]) if detail and not ok else ''))
    if not ok:
        failures.append(what)


def packets(path, expression):
    done = subprocess.run(['tcpdump', '-n', '-r', path, expression], capture_output=True, text=True, check=False)
    return len(done.stdout.splitlines()) if done.returncode == 0 else -1


def main(path):
    with open(path) as handle:
        details = yaml.safe_load(handle)
    domains = dict((d['name'], d) for g in details['guests'] for d in g['domains'])
    for instance in (1, 2):
        target, attacker = 'srv_cr77_%d_1' % instance, 'fw_cr77_%d_1' % instance
        source = next(i['address'] for i in domains[attacker]['interfaces'] if i['cyris_network'] == 'servers')
        code, out = run(target, AUTH_LOG)
        failed = [line for line in out.splitlines() if 'Failed password for %s from %s port' % (ACCOUNT, source) in line]
        check('%s: %d failed logins as %s from %s (%s)' % (target, ATTEMPTS, ACCOUNT, attacker, source),
              code == 0 and len(failed) == ATTEMPTS, '%d found: %s' % (len(failed), out))
        code, out = run(target, 'stat -c %%a %s && base64 -w0 %s' % (CAPTURE, CAPTURE))
        mode, _newline, data = out.partition('\n')
        check('%s: %s is there, mode 0644' % (target, CAPTURE), code == 0 and mode == '644', out)
        if code != 0:
            continue
        with tempfile.NamedTemporaryFile(suffix='.pcap') as capture:
            capture.write(base64.b64decode(data))
            capture.flush()
            attack = packets(capture.name, 'host %s and tcp port 22' % ATTACK_SOURCE)
            noise = packets(capture.name, 'not tcp port 22')
        check('%s: tcpdump reads %d attack and %d noise packets' % (target, attack, noise), attack > 0 and noise > 0)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
