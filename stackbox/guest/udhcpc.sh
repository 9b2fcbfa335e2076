#!/bin/sh
# udhcpc event script of the stackbox test guest: configure the leased IPv4 address,
# routes (option 121 classless routes, else the router), MTU and DNS servers.
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound | renew)
    if ! ip -4 addr show dev "$interface" | grep -q "inet $ip/"; then
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" broadcast "${broadcast:-+}" dev "$interface"
    fi
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    if [ -n "$staticroutes" ]; then
        # shellcheck disable=SC2086
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            if [ "$2" = 0.0.0.0 ]; then
                ip route replace "$1" dev "$interface"
            else
                ip route replace "$1" via "$2" dev "$interface"
            fi
            shift 2
        done
    else
        for r in $router; do
            ip route replace default via "$r" dev "$interface" && break
        done
    fi
    if [ -n "$dns" ]; then
        for d in $dns; do echo "nameserver $d"; done >/etc/resolv.conf
    fi
    ;;
esac
exit 0
