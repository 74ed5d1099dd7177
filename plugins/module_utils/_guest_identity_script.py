# -*- coding: utf-8 -*-
# Copyright (c) cyris.kvm_auto contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the cyris.kvm_auto collection: its API may change at any time.

"""The guest side of the identity (see _guest_identity): the script and its systemd unit, as text.

kvm_auto_image installs both into every image.  GUEST_SCRIPT is POSIX sh and shellcheck-clean;
for tests only, KVM_AUTO_IDENTITY_FILE (the fw_cfg file), KVM_AUTO_ROOT (a prefix of the /etc,
/run, /proc and /sys paths it writes and reads) and KVM_AUTO_IPTABLES (the iptables command)
redirect it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SCRIPT_PATH = '/usr/local/sbin/kvm-auto-identity'
UNIT_NAME = 'kvm-auto-identity.service'

GUEST_SCRIPT = r"""#!/bin/sh
# kvm-auto-identity: give this guest the identity that cyris.kvm_auto wrote into its domain
# definition (the QEMU fw_cfg entry opt/org.cyris.kvm_auto/identity): host name, static
# addresses, default route, whether it forwards between its networks (with iptables rules), and
# the account of the trainee who logs in to it over SSH.
# Run by kvm-auto-identity.service at every boot, before the network and sshd start.
# Every field is checked before use and a bad line is skipped with a message; no text of the
# identity is ever evaluated.  The KVM_AUTO_* variables only exist for tests.
set -f -u
LC_ALL=C
export LC_ALL

entry=${KVM_AUTO_IDENTITY_FILE:-/sys/firmware/qemu_fw_cfg/by_name/opt/org.cyris.kvm_auto/identity/raw}
root=${KVM_AUTO_ROOT:-}
iptables=${KVM_AUTO_IPTABLES:-iptables}
chain=KVM-AUTO-FORWARD
status=0

say() {
    echo "kvm-auto-identity: $*" >&2
}

is_octet() {
    case $1 in
        '' | *[!0-9]*) return 1 ;;
        0) return 0 ;;
        0*) return 1 ;;
    esac
    [ ${#1} -le 3 ] && [ "$1" -le 255 ]
}

is_ipv4() {
    case $1 in
        *.*.*.*.* | *[!0-9.]*) return 1 ;;
        *.*.*.*) ;;
        *) return 1 ;;
    esac
    old_ifs=$IFS
    IFS=.
    # shellcheck disable=SC2086
    set -- $1
    IFS=$old_ifs
    [ $# -eq 4 ] && is_octet "$1" && is_octet "$2" && is_octet "$3" && is_octet "$4"
}

is_prefix() {  # is_prefix N MIN: N is a prefix length from MIN to 32
    case $1 in
        '' | *[!0-9]* | 0?*) return 1 ;;
    esac
    [ ${#1} -le 2 ] && [ "$1" -ge "$2" ] && [ "$1" -le 32 ]
}

is_address() {  # an IPv4 address with its prefix length: 10.1.2.3/24
    case $1 in
        */*) is_ipv4 "${1%/*}" && is_prefix "${1#*/}" 1 ;;
        *) return 1 ;;
    esac
}

is_cidr() {  # an IPv4 address or network: 10.1.2.3, 10.1.2.0/24
    case $1 in
        */*) is_ipv4 "${1%/*}" && is_prefix "${1#*/}" 0 ;;
        *) is_ipv4 "$1" ;;
    esac
}

is_cidr_list() {
    case $1 in
        '' | ,* | *, | *,,*) return 1 ;;
    esac
    old_ifs=$IFS
    IFS=,
    # shellcheck disable=SC2086
    set -- $1
    IFS=$old_ifs
    for cidr in "$@"; do
        is_cidr "$cidr" || return 1
    done
}

is_port() {
    case $1 in
        '' | 0* | *[!0-9]*) return 1 ;;
    esac
    [ ${#1} -le 5 ] && [ "$1" -le 65535 ]
}

is_ports() {  # -, or a comma list of ports and FIRST:LAST ranges, at most 15 ports (a range counts twice)
    [ "$1" = - ] && return 0
    case $1 in
        '' | ,* | *, | *,,* | *[!0-9,:]*) return 1 ;;
    esac
    old_ifs=$IFS
    IFS=,
    # shellcheck disable=SC2086
    set -- $1
    IFS=$old_ifs
    count=0
    for item in "$@"; do
        case $item in
            *:*:*) return 1 ;;
            *:*)
                is_port "${item%:*}" && is_port "${item#*:}" && [ "${item%:*}" -le "${item#*:}" ] || return 1
                count=$((count + 2)) ;;
            *)
                is_port "$item" || return 1
                count=$((count + 1)) ;;
        esac
    done
    [ "$count" -le 15 ]
}

is_mac() {  # lower case, as the domain definition and sysfs write it
    case $1 in
        [0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]) return 0 ;;
    esac
    return 1
}

is_account() {  # a lower-case letter or _, then up to 31 of a-z 0-9 _ . - (as _cyris_schema says)
    [ ${#1} -ge 1 ] && [ ${#1} -le 32 ] || return 1
    case $1 in
        [a-z_]*) ;;
        *) return 1 ;;
    esac
    case $1 in
        *[!a-z0-9_.-]*) return 1 ;;
    esac
}

is_sha512_crypt() {  # $6$[rounds=N$]SALT$HASH: N from 1000, SALT 1-16 and HASH 86 of ./0-9A-Za-z
    rest=${1#\$6\$}
    [ "$rest" != "$1" ] || return 1
    case $rest in
        rounds=*)
            rounds=${rest%%\$*}
            rounds=${rounds#rounds=}
            case $rounds in
                '' | 0* | *[!0-9]*) return 1 ;;
            esac
            [ ${#rounds} -ge 4 ] && [ ${#rounds} -le 9 ] || return 1
            rest=${rest#*\$}
            ;;
    esac
    salt=${rest%%\$*}
    [ "$salt" != "$rest" ] || return 1
    crypted=${rest#*\$}
    [ ${#salt} -ge 1 ] && [ ${#salt} -le 16 ] && [ ${#crypted} -eq 86 ] || return 1
    case $salt$crypted in
        *[!./0-9A-Za-z]*) return 1 ;;
    esac
}

is_hostname() {  # labels of letters, digits and inner dashes, dot separated, at most 253 characters
    [ ${#1} -ge 1 ] && [ ${#1} -le 253 ] || return 1
    case $1 in
        *[!A-Za-z0-9.-]* | .* | *. | *..*) return 1 ;;
    esac
    old_ifs=$IFS
    IFS=.
    # shellcheck disable=SC2086
    set -- $1
    IFS=$old_ifs
    for label in "$@"; do
        case $label in
            -* | *-) return 1 ;;
        esac
        [ ${#label} -le 63 ] || return 1
    done
}

ip_number() {
    old_ifs=$IFS
    IFS=.
    # shellcheck disable=SC2086
    set -- $1
    IFS=$old_ifs
    echo $(($1 * 16777216 + $2 * 65536 + $3 * 256 + $4))
}

same_network() {  # same_network ADDRESS/PREFIX IPV4
    prefix=${1#*/}
    mask=$(((4294967295 << (32 - prefix)) & 4294967295))
    [ $(($(ip_number "${1%/*}") & mask)) -eq $(($(ip_number "$2") & mask)) ]
}

write_file() {  # write_file PATH MODE TEXT: replace PATH by a file holding TEXT
    mkdir -p "${1%/*}" && printf '%s\n' "$3" > "$1.kvm-auto-new" && chmod "$2" "$1.kvm-auto-new" \
        && mv -f "$1.kvm-auto-new" "$1" && return 0
    say "cannot write $1"
    rm -f "$1.kvm-auto-new"
    status=1
    return 1
}

# ---- read and check the identity -------------------------------------------------------------

[ -r "$entry" ] || modprobe qemu_fw_cfg 2>/dev/null
if [ ! -r "$entry" ]; then
    say "no identity in the domain definition ($entry): nothing to do"
    exit 0
fi
# The domain definition carries the text with % and , escaped as %25 and %2C (see _vm_identity).
text=$(tr -d '\000' < "$entry" | sed -e 's/%2C/,/g' -e 's/%25/%/g')

hostname=
addresses=
gateway=
forwarding=off
accepts=
trainee=
trainee_hash=
trainee_admin=
reply_mac=
reply_gateway=
# The routing table (and rule priority) of reply-via: answers from that NIC's address.
reply_table=4242
number=0
while IFS= read -r line || [ -n "$line" ]; do
    number=$((number + 1))
    if [ $number -eq 1 ]; then
        if [ "$line" != 'kvm-auto-identity 1' ]; then
            say "the identity does not start with 'kvm-auto-identity 1' (a format this script does not know): nothing changed"
            exit 0
        fi
        continue
    fi
    old_ifs=$IFS
    IFS=' '
    # shellcheck disable=SC2086
    set -- $line
    IFS=$old_ifs
    [ $# -eq 0 ] && continue
    problem=
    case $line in
        ' '* | *' ' | *'  '*) problem='fields must be separated by single spaces' ;;
    esac
    [ -n "$problem" ] || case $1 in
        hostname)
            if [ $# -ne 2 ] || ! is_hostname "$2"; then
                problem='expected: hostname NAME (labels of letters, digits and inner dashes)'
            elif [ -n "$hostname" ]; then
                problem='a second host name'
            else
                hostname=$2
            fi
            ;;
        address)
            if [ $# -ne 3 ] || ! is_mac "$2" || ! is_address "$3"; then
                problem='expected: address MAC IPV4/PREFIX'
            else
                case " $addresses " in
                    *" $2="*) problem="a second address for $2" ;;
                    *) addresses="$addresses $2=$3" ;;
                esac
            fi
            ;;
        gateway)
            if [ $# -ne 2 ] || ! is_ipv4 "$2"; then
                problem='expected: gateway IPV4'
            elif [ -n "$gateway" ]; then
                problem='a second gateway'
            else
                gateway=$2
            fi
            ;;
        forwarding)
            if [ $# -ne 2 ] || [ "$2" != on ]; then
                problem='expected: forwarding on'
            else
                forwarding=on
            fi
            ;;
        accept)
            if [ $# -ne 6 ] || [ "$2" != tcp ] || ! is_cidr_list "$3" || ! is_cidr_list "$4" \
                    || ! is_ports "$5" || ! is_ports "$6"; then
                problem='expected: accept tcp SOURCES DESTINATIONS SOURCE-PORTS DESTINATION-PORTS'
            else
                accepts="$accepts $3;$4;$5;$6"
            fi
            ;;
        reply-via)
            if [ $# -ne 3 ] || ! is_mac "$2" || ! is_ipv4 "$3"; then
                problem='expected: reply-via MAC IPV4'
            elif [ -n "$reply_mac" ]; then
                problem='a second reply-via'
            else
                reply_mac=$2 reply_gateway=$3
            fi
            ;;
        trainee)
            if [ $# -ne 4 ] || ! is_account "$2" || [ "$2" = root ] || ! is_sha512_crypt "$3" \
                    || { [ "$4" != sudo ] && [ "$4" != - ]; }; then
                problem='expected: trainee NAME SHA-512-CRYPT-HASH sudo|-'
            elif [ -n "$trainee" ]; then
                problem='a second trainee'
            else
                trainee=$2 trainee_hash=$3 trainee_admin=$4
            fi
            ;;
        *)
            problem='unknown line'
            ;;
    esac
    [ -z "$problem" ] || say "line $number ignored ($problem): $line"
done <<EOF
$text
EOF
if [ -n "$accepts" ] && [ "$forwarding" != on ]; then
    say "accept lines without 'forwarding on' are ignored"
    accepts=
fi

# ---- host name -------------------------------------------------------------------------------

if [ -n "$hostname" ]; then
    short=${hostname%%.*}
    names=$hostname
    [ "$short" = "$hostname" ] || names="$hostname $short"
    hosts=
    if [ -r "$root/etc/hosts" ]; then
        while IFS= read -r host_line || [ -n "$host_line" ]; do
            case $host_line in
                127.0.1.1[[:space:]]*) ;;
                *) hosts="$hosts$host_line
" ;;
            esac
        done < "$root/etc/hosts"
    fi
    write_file "$root/etc/hosts" 0644 "${hosts}127.0.1.1	$names"
    write_file "$root/etc/hostname" 0644 "$hostname"
    printf '%s' "$hostname" > "$root/proc/sys/kernel/hostname" || { say "cannot set the host name"; status=1; }
fi

# ---- addresses and the default route ---------------------------------------------------------

if systemctl --quiet is-enabled NetworkManager.service 2>/dev/null; then
    stack=NetworkManager
elif systemctl --quiet is-enabled systemd-networkd.service 2>/dev/null; then
    stack=systemd-networkd
else
    stack=ip
fi

routed=
for item in $addresses; do
    mac=${item%%=*}
    address=${item#*=}
    route=
    if [ -n "$gateway" ] && [ -z "$routed" ] && same_network "$address" "$gateway"; then
        route=$gateway
        routed=$mac
    fi
    # reply-via: what comes in on this NIC from anywhere is answered back through it.
    reply=
    if [ "$mac" = "$reply_mac" ]; then
        if same_network "$address" "$reply_gateway"; then
            reply=$reply_gateway
        else
            say "reply-via $reply_gateway is not on the network of $address: ignored"
        fi
    fi
    name=$(echo "$mac" | tr -d :)
    case $stack in
        systemd-networkd)
            # 05- sorts before the image's own files (and netplan's 10-netplan-*): networkd uses the first match.
            write_file "$root/run/systemd/network/05-kvm-auto-$name.network" 0644 "# Written by kvm-auto-identity at boot.
[Match]
MACAddress=$mac

[Link]
RequiredForOnline=no

[Network]
DHCP=no
LinkLocalAddressing=no
IPv6AcceptRA=no
Address=$address${route:+
Gateway=$route}${reply:+

[RoutingPolicyRule]
From=${address%/*}
Table=$reply_table
Priority=$reply_table

[Route]
Gateway=$reply
Table=$reply_table}"
            ;;
        NetworkManager)
            write_file "$root/run/NetworkManager/system-connections/kvm-auto-$name.nmconnection" 0600 "# Written by kvm-auto-identity at boot.
[connection]
id=kvm-auto-$name
uuid=6b766d2d-6175-746f-8000-$name
type=ethernet
autoconnect=true
autoconnect-priority=100

[ethernet]
mac-address=$mac

[ipv4]
method=manual
address1=$address${route:+,$route}${reply:+
route1=0.0.0.0/0,$reply
route1_options=table=$reply_table
routing-rule1=priority $reply_table from ${address%/*} table $reply_table}

[ipv6]
method=disabled"
            ;;
        ip)
            device=
            set +f
            for path in "$root"/sys/class/net/*/address; do
                [ -r "$path" ] && [ "$(cat "$path")" = "$mac" ] && device=${path%/address} && device=${device##*/}
            done
            set -f
            if [ -z "$device" ]; then
                say "no network interface has the MAC address $mac"
                status=1
                continue
            fi
            { ip link set dev "$device" up && ip -4 address replace "$address" dev "$device" \
                && { [ -z "$route" ] || ip -4 route replace default via "$route" dev "$device"; } \
                && { [ -z "$reply" ] || { ip -4 rule del priority "$reply_table" 2>/dev/null
                        ip -4 rule add from "${address%/*}" table "$reply_table" priority "$reply_table" \
                            && ip -4 route replace default via "$reply" dev "$device" table "$reply_table"; }; }; } \
                || { say "cannot configure $device ($mac)"; status=1; }
            ;;
    esac
done
if [ -n "$gateway" ] && [ -z "$routed" ]; then
    say "gateway $gateway is on the network of none of the addresses: no default route"
fi
if [ -n "$addresses" ]; then
    if [ $stack = systemd-networkd ] && systemctl --quiet is-active systemd-networkd.service 2>/dev/null; then
        networkctl reload || status=1
    elif [ $stack = NetworkManager ] && systemctl --quiet is-active NetworkManager.service 2>/dev/null; then
        nmcli connection reload || status=1
    fi
fi

# ---- forwarding ------------------------------------------------------------------------------

forward=0
if [ "$forwarding" = on ]; then
    if ! command -v "$iptables" > /dev/null 2>&1; then
        say "forwarding on, but $iptables is missing in this guest: forwarding stays off"
        status=1
    else
        # The policy first: while the rules are being set nothing is forwarded unfiltered.
        ok=yes
        "$iptables" -w -P FORWARD DROP || ok=
        if [ -n "$ok" ] && ! "$iptables" -w -N $chain 2>/dev/null; then
            "$iptables" -w -F $chain || ok=
        fi
        while [ -n "$ok" ] && "$iptables" -w -D FORWARD -j $chain 2>/dev/null; do :; done
        [ -n "$ok" ] && { "$iptables" -w -I FORWARD 1 -j $chain || ok=; }
        [ -n "$ok" ] && { "$iptables" -w -A $chain -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT || ok=; }
        for rule in $accepts; do
            [ -n "$ok" ] || break
            old_ifs=$IFS
            IFS=';'
            # shellcheck disable=SC2086
            set -- $rule
            IFS=$old_ifs
            sources=$1 destinations=$2 source_ports=$3 destination_ports=$4
            set -- -A $chain -p tcp -s "$sources" -d "$destinations"
            case $source_ports$destination_ports in
                *,*)
                    set -- "$@" -m multiport
                    [ "$source_ports" = - ] || set -- "$@" --sports "$source_ports"
                    [ "$destination_ports" = - ] || set -- "$@" --dports "$destination_ports"
                    ;;
                *)
                    [ "$source_ports" = - ] || set -- "$@" --sport "$source_ports"
                    [ "$destination_ports" = - ] || set -- "$@" --dport "$destination_ports"
                    ;;
            esac
            "$iptables" -w "$@" -m conntrack --ctstate NEW -j ACCEPT || ok=
        done
        if [ -n "$ok" ]; then
            forward=1
        else
            say "the forwarding rules could not be set: forwarding stays off"
            status=1
        fi
    fi
fi
printf '%s\n' $forward > "$root/proc/sys/net/ipv4/ip_forward" || { say "cannot set net.ipv4.ip_forward"; status=1; }

# ---- the trainee account ----------------------------------------------------------------------

sudoers=$root/etc/sudoers.d/kvm-auto-trainee
sshd_config=$root/etc/ssh/sshd_config
sshd_drop_in=$root/etc/ssh/sshd_config.d/kvm-auto-trainee.conf
account_ready=
if [ -n "$trainee" ]; then
    if cut -d: -f1 "$root/etc/passwd" | grep -qxF "$trainee"; then
        account_ready=yes
    elif [ -x "$root/bin/bash" ]; then
        useradd -m -s /bin/bash "$trainee" && account_ready=yes
    else
        useradd -m "$trainee" && account_ready=yes
    fi
    if [ -z "$account_ready" ]; then
        say "cannot create the account $trainee"
        status=1
    elif ! printf '%s:%s\n' "$trainee" "$trainee_hash" | chpasswd -e; then
        # On stdin: the hash never appears on a command line.
        say "cannot set the password of $trainee"
        status=1
        account_ready=
    fi
fi
if [ -n "$account_ready" ] && [ "$trainee_admin" = sudo ]; then
    write_file "$sudoers" 0440 "$trainee ALL=(ALL:ALL) ALL"
    [ -x "$root/usr/bin/sudo" ] || [ -x "$root/bin/sudo" ] || say "$trainee may use sudo, but sudo is not installed"
else
    rm -f "$sudoers"
fi
if [ -n "$account_ready" ]; then
    # Cloud images often switch password login off; this opens it for the trainee only.  sshd
    # reads the drop-ins where sshd_config includes them (at its top in current images), and a
    # Match block in an included file ends with that file.
    write_file "$sshd_drop_in" 0644 "# Written by kvm-auto-identity at boot: password login for the trainee only.
Match User $trainee
    PasswordAuthentication yes
    KbdInteractiveAuthentication yes"
    if [ -r "$sshd_config" ] && ! grep -Eqi '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/' "$sshd_config"; then
        say "$sshd_config does not include /etc/ssh/sshd_config.d: $trainee may not log in with a password"
        status=1
    fi
else
    rm -f "$sshd_drop_in"
fi

# shellcheck disable=SC2086
set -- $addresses
forwarded=off
[ $forward = 1 ] && forwarded=on
login=none
[ -n "$account_ready" ] && login=$trainee
say "host name ${hostname:-unchanged}, $# static address(es) via $stack, forwarding $forwarded, trainee $login"
exit $status
"""

GUEST_UNIT = u"""\
[Unit]
Description=Identity of this guest from its domain definition (cyris.kvm_auto)
DefaultDependencies=no
# After the file systems are writable and sysctl and saved firewall rules are loaded, which
# would otherwise undo ip_forward or flush the forwarding chain.
After=local-fs.target systemd-remount-fs.service systemd-modules-load.service systemd-sysctl.service
After=systemd-udev-trigger.service kvm-auto-iptables.service netfilter-persistent.service iptables.service
Before=network-pre.target systemd-networkd.service NetworkManager.service systemd-hostnamed.service
Wants=network-pre.target
Conflicts=shutdown.target
Before=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=%s
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
""" % SCRIPT_PATH
