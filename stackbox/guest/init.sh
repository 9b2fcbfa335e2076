#!/bin/sh
# /init of the stackbox test guest (busybox initramfs, see stackbox/guest/initramfs.py).
# Brings up the virtio devices and every NIC (DHCP), reads the instance metadata (config
# drive labelled config-2, else http://169.254.169.254), answers ping and TCP port 22,
# powers off on the ACPI power button, prints ONE ready line on the console:
#   stackbox-guest: ready instance=<uuid|unknown> addresses=<ipv4,...|none>
# then runs user_data if it starts with "#!".
export PATH=/bin
umask 022
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=0755 tmpfs /run
exec </dev/null >/dev/console 2>&1

log() { echo "stackbox-guest: $*"; }

while read -r mod; do
    insmod "/lib/modules/$mod.ko" 2>/dev/null || log "insmod $mod failed"
done </etc/modules

# ACPI power button (virsh shutdown) -> /etc/acpi/PWRF/00000080 -> poweroff -f
acpid -c /etc/acpi -l /dev/null -p /run/acpid.pid

# DHCP on every NIC at once; udhcpc backgrounds itself after a lease or after 3 tries
# 1 s apart, and keeps renewing / retrying in the background.
hostname localhost
ip link set lo up
for path in /sys/class/net/*; do
    nic=${path##*/}
    case "$nic" in
    eth* | ens* | enp*)
        ip link set "$nic" up
        udhcpc -i "$nic" -s /etc/udhcpc.script -t 3 -T 1 -A 5 -b -p "/run/udhcpc.$nic.pid" \
            >/dev/null 2>&1 &
        ;;
    esac
done
wait

addresses() {
    ip -o -4 addr show 2>/dev/null |
        awk '{split($4, a, "/"); if (a[1] !~ /^127\./) {printf "%s%s", sep, a[1]; sep = ","}}'
}

config_drive() {
    # the block device labelled config-2 (ISO 9660 on a cdrom or a virtio disk); the
    # cdrom may still be probing, so look a few times
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        dev=$(findfs LABEL=config-2 2>/dev/null) && { echo "$dev"; return 0; }
        for dev in /dev/sr* /dev/vd*; do
            [ -b "$dev" ] && mount -t iso9660 -o ro "$dev" /mnt/config 2>/dev/null || continue
            found=0
            [ -f /mnt/config/openstack/latest/meta_data.json ] && found=1
            umount /mnt/config
            [ $found = 1 ] && { echo "$dev"; return 0; }
        done
        sleep 0.3
    done
    return 1
}

mkdir -p /run/metadata
md=/run/metadata/meta_data.json
ud=/run/metadata/user_data
if dev=$(config_drive) && mount -t iso9660 -o ro "$dev" /mnt/config; then
    cp /mnt/config/openstack/latest/meta_data.json "$md" 2>/dev/null
    cp /mnt/config/openstack/latest/user_data "$ud" 2>/dev/null
    umount /mnt/config
elif [ -n "$(addresses)" ]; then
    base=http://169.254.169.254/openstack/latest
    timeout 5 wget -q -O "$md" "$base/meta_data.json" >/dev/null 2>&1 || rm -f "$md"
    timeout 5 wget -q -O "$ud" "$base/user_data" >/dev/null 2>&1 || rm -f "$ud"
fi
json_str() {
    # the string value of a top-level key of a one-line JSON object (good enough for
    # the metadata service's own output)
    [ -f "$md" ] && sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$md"
}
uuid=$(json_str uuid)
name=$(json_str hostname)
[ -n "$name" ] && hostname "${name%%.*}"

# "SSH": a banner on TCP port 22, one process per connection
nc -ll -p 22 -e /bin/ssh-banner >/dev/null 2>&1 &

addrs=$(addresses)
echo "stackbox-guest: ready instance=${uuid:-unknown} addresses=${addrs:-none}"

if [ -s "$ud" ] && [ "$(head -c 2 "$ud")" = "#!" ]; then
    chmod 0700 "$ud"
    "$ud" 2>&1
    log "user_data exited with status $?"
fi

while :; do
    sleep 3600
done
