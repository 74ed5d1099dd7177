# SPDX-License-Identifier: GPL-3.0-or-later
"""Check a deployed topology range from inside its guests, against its range details file.

    check_topology.py DETAILS_FILE

Each guest: its own host name, the addresses the details file gives. Traffic: within a network;
through the firewall where the rule allows it (office -> servers.srv port 22); refused where no
rule allows it (office -> servers port 2222 with a listener there, servers -> office); nothing
between the two instances; no guest reaches the KVM host's sshd. The server's emulate_malware
tasks, from its image: a process named miner at about its CPU share, and a process named backdoor
that is the listener on port 2222. Prints one line per check and exits 1 when any fails.
"""
import json
import socket
import subprocess
import sys
import threading

import yaml

from guest_exec import run

failures = []


def check(what, ok, detail=''):
    print('%s  %s%s' % ('ok  ' if ok else 'FAIL', what, (': ' + detail.strip()) if detail and not ok else ''))
    if not ok:
        failures.append(what)


def connects(domain, address, port):
    """Whether ``domain`` opens a TCP connection to address:port (nc, 3 s)."""
    code, out = run(domain, 'nc -z -w 3 %s %d' % (address, port))
    return code == 0, out


# A service of the KVM host on every address, so that "not reached" means refused by the design.
HOST_PORT = 2200


def serve_on_the_host():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('0.0.0.0', HOST_PORT))
    server.listen(16)

    def accept():
        while True:
            connection, _peer = server.accept()
            connection.close()
    threading.Thread(target=accept, daemon=True).start()


def main(path):
    serve_on_the_host()
    ok, out = connects_from_host('127.0.0.1', HOST_PORT)
    check('the host service answers on the host', ok, out)
    with open(path) as handle:
        details = yaml.safe_load(handle)
    domains = dict((d['name'], d) for g in details['guests'] for d in g['domains'])
    address = dict((name, dict((i['cyris_network'], i['address']) for i in d['interfaces'])) for name, d in domains.items())

    for name, domain in sorted(domains.items()):
        code, out = run(name, 'hostname')
        check('%s has its own host name' % name, code == 0 and out.strip() == name.replace('_', '-'), out)
        # The guest agent answers before the network is configured: wait for the last address.
        wanted = ' '.join('%s/%d' % (i['address'], i['prefix']) for i in domain['interfaces'])
        code, out = run(name, 'for i in $(seq 90); do out=$(ip -4 -o addr show); ok=1; for a in %s; do '
                              'case "$out" in *" $a "*) ;; *) ok= ;; esac; done; [ -n "$ok" ] && break; sleep 1; done; '
                              'echo "$out"' % wanted, timeout=120)
        for iface in domain['interfaces']:
            check('%s has %s/%d (%s)' % (name, iface['address'], iface['prefix'], iface['cyris_network']),
                  ' %s/%d ' % (iface['address'], iface['prefix']) in out, out)
    for network in details['networks']:
        links = json.loads(subprocess.run(['ip', '-j', 'addr', 'show', 'dev', network['bridge']],
                                          capture_output=True, text=True, check=True).stdout)
        check('bridge %s of %s has no host address' % (network['bridge'], network['name']),
              links and not links[0].get('addr_info'), json.dumps(links))
    # CyRIS's own fields are there for its tools.
    host = details['hosts'][0]
    check('details keep the CyRIS layout', host['instance_count'] == 2 and
          host['instances'][0]['guests'][0]['kvm_domain'] == 'pc_cr77_1_1' and
          host['instances'][0]['guests'][0]['ip_addrs'] == {'eth0': address['pc_cr77_1_1']['office']})

    for inst in (1, 2):
        pc, srv, fw = ('%s_cr77_%d_1' % (g, inst) for g in ('pc', 'srv', 'fw'))
        other = 3 - inst
        # sshd starts late on a first boot (it makes its host keys then): wait until each guest's
        # own sshd answers, so that what follows measures the network, not the boot.
        for guest in (pc, srv, fw):
            code, out = run(guest, 'for i in $(seq 120); do nc -z -w 2 127.0.0.1 22 && exit 0; sleep 1; done; exit 1',
                            timeout=150)
            check('%s: its sshd answers on the guest itself' % guest, code == 0, out)
        check_malware(srv)
        code, out = run(fw, 'sysctl -n net.ipv4.ip_forward; iptables -S FORWARD')
        check('%s forwards, with a FORWARD policy of DROP' % fw, code == 0 and out.startswith('1') and '-P FORWARD DROP' in out, out)
        ok, out = connects(pc, address[fw]['office'], 22)
        check('%s reaches %s in its network' % (pc, fw), ok, out)
        ok, out = connects(fw, address[srv]['servers'], 2222)
        check('%s reaches the listener on %s:2222 in its network' % (fw, srv), ok, out)
        ok, out = connects(pc, address[srv]['servers'], 22)
        check('%s reaches %s:22 through %s (the rule)' % (pc, srv, fw), ok, out)
        ok, out = connects(pc, address[srv]['servers'], 2222)
        check('%s does not reach %s:2222 (no rule)' % (pc, srv), not ok, out)
        ok, out = connects(srv, address[pc]['office'], 22)
        check('%s does not reach %s:22 (no rule that way)' % (srv, pc), not ok, out)
        for target in ('pc_cr77_%d_1' % other, 'srv_cr77_%d_1' % other, 'fw_cr77_%d_1' % other):
            for net, addr in address[target].items():
                ok, out = connects(pc, addr, 22)
                check('%s does not reach %s of instance %d (%s)' % (pc, target, other, addr), not ok, out)
        addresses = host_addresses()
        check('the KVM host has an address besides loopback to try', bool(addresses))
        for source in (pc, fw):
            for addr in addresses:
                for port in (22, HOST_PORT):
                    ok, out = connects(source, addr, port)
                    check('%s does not reach the KVM host at %s:%d' % (source, addr, port), not ok, out)
    print('%d failed' % len(failures))
    return 1 if failures else 0


# The server's emulate_malware tasks (files/range.yml): a share in percent, a port.
MINER_SHARE = 10
BACKDOOR_PORT = 2222


def check_malware(srv):
    """The programs baked into the server's image run from its first boot under their own names."""
    for name in ('miner', 'backdoor'):
        code, out = run(srv, 'for i in $(seq 60); do pgrep -x %s && exit 0; sleep 1; done; exit 1' % name, timeout=90)
        check('%s: one process named %s runs (pgrep -x)' % (srv, name), code == 0 and len(out.split()) == 1, out)
    # CPU time of miner (user + system, in clock ticks) over 10 s of the guest's clock.
    code, out = run(srv, 'pid=$(pgrep -x miner); t() { set -- $(cut -d" " -f14,15 /proc/$pid/stat); echo $(($1 + $2)); }; '
                         'a=$(t); sleep 10; b=$(t); echo $(((b - a) * 100 / $(getconf CLK_TCK) / 10))', timeout=60)
    share = int(out.split()[-1]) if code == 0 and out.split() and out.split()[-1].isdigit() else None
    # Rough: an emulated guest on a shared machine stretches both the busy and the idle part.
    check('%s: miner takes about %d%% of a CPU (%s%%)' % (srv, MINER_SHARE, share),
          share is not None and MINER_SHARE // 4 <= share <= MINER_SHARE * 4, out)
    code, out = run(srv, 'ss -Hltnp "sport = :%d"' % BACKDOOR_PORT)
    check('%s: backdoor is the listener on port %d' % (srv, BACKDOOR_PORT), code == 0 and '"backdoor"' in out, out)


def connects_from_host(address, port):
    try:
        socket.create_connection((address, port), timeout=3).close()
        return True, ''
    except OSError as exc:
        return False, str(exc)


def host_addresses():
    """Every IPv4 address of the KVM host but loopback ones."""
    links = json.loads(subprocess.run(['ip', '-j', '-4', 'addr', 'show'], capture_output=True, text=True, check=True).stdout)
    return [a['local'] for link in links for a in link.get('addr_info', ()) if not a['local'].startswith('127.')]


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
