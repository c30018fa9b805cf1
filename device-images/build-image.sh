#!/usr/bin/env bash
# Builds a Debian 12 (bookworm) arm64 root filesystem with the continual-learning .deb and its configuration,
# and optionally a bootable Raspberry Pi 3/4 SD-card image (Debian's linux-image-arm64 + raspi-firmware, the
# approach of raspi.debian.net). Runs on an x86-64 or arm64 Debian/Ubuntu host as root. Not run in CI.
#
#   sudo device-images/build-image.sh --deb artifacts/device/continual-learning_0.1.0_arm64.deb \
#        --config my-device.json --fleet-key fleet-public.pem [--ssh-key ~/.ssh/id_ed25519.pub] \
#        [--hostname cl-dev-01] [--out build/image] [--raspi-image 2G]
#
# Output: <out>/rootfs/ (the tree), <out>/rootfs.tar.zst, and with --raspi-image <out>/cl-device-arm64.img.
# Step-by-step explanation and flashing: device-images/README.md.
set -euo pipefail

deb="" config="" fleet_key="" ssh_key="" hostname="cl-device" out="build/image" image_size=""
mirror=${MIRROR:-http://deb.debian.org/debian}
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --fleet-key) fleet_key=$2; shift 2 ;;
    --ssh-key) ssh_key=$2; shift 2 ;;
    --hostname) hostname=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --raspi-image) image_size=$2; shift 2 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "build-image: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and loop devices need it)"
[ -f "$deb" ] || die "--deb: give the arm64 package built by 'dotnet cake --target=PackageDeb' (got '$deb')"
dpkg-deb -f "$deb" Architecture | grep -qx arm64 || die "--deb $deb is not an arm64 package"
[ -z "$config" ] || [ -f "$config" ] || die "--config $config does not exist"
[ -z "$fleet_key" ] || grep -q "BEGIN PUBLIC KEY" "$fleet_key" || die "--fleet-key $fleet_key is not a PEM public key"

# 1. Host tools. qemu-user-static registers binfmt handlers, so the chroot can run arm64 binaries on x86-64.
need=(debootstrap zstd)
[ "$(dpkg --print-architecture)" = arm64 ] || need+=(qemu-user-static binfmt-support)
[ -z "$image_size" ] || need+=(parted dosfstools e2fsprogs)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; fi

rootfs=$out/rootfs
rm -rf "$rootfs" && mkdir -p "$rootfs"

# 2. Minimal Debian: systemd as init, networking, time sync (TLS and release timestamps need a sane clock), SSH,
#    and the runtime libraries the self-contained app loads (no ICU: InvariantGlobalization).
include=systemd-sysv,udev,dbus,netbase,iproute2,ifupdown,isc-dhcp-client,systemd-timesyncd,openssh-server,ca-certificates,adduser,libssl3,zlib1g,libstdc++6,libgcc-s1,sudo
components=main
if [ -n "$image_size" ]; then include+=,linux-image-arm64,raspi-firmware,firmware-brcm80211; components=main,non-free-firmware; fi
debootstrap --arch=arm64 --variant=minbase --components="$components" --include="$include" bookworm "$rootfs" "$mirror"

# 3. The package. Its postinst creates the cl-device user, the gpio group and enables cl-device.service.
cp "$deb" "$rootfs/tmp/continual-learning.deb"
chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/continual-learning.deb
rm "$rootfs/tmp/continual-learning.deb"

# 4. Configuration: device ids, broker and the fleet's release-signing key (conffiles: upgrades keep local edits).
[ -z "$config" ] || install -m 0640 -g "$(chroot "$rootfs" getent group cl-device | cut -d: -f3)" "$config" "$rootfs/etc/continual-learning/device.json"
[ -z "$fleet_key" ] || install -m 0644 "$fleet_key" "$rootfs/etc/continual-learning/fleet-public.pem"
echo "$hostname" > "$rootfs/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$hostname" > "$rootfs/etc/hosts"
printf 'auto lo\niface lo inet loopback\n\nallow-hotplug eth0\niface eth0 inet dhcp\n' > "$rootfs/etc/network/interfaces"
# /tmp in RAM as well: nothing of the device's data should land on the SD card outside /var/lib/continual-learning.
printf 'tmpfs /tmp tmpfs defaults,nosuid,nodev,size=64m 0 0\n' > "$rootfs/etc/fstab"
chroot "$rootfs" passwd --lock root
if [ -n "$ssh_key" ]; then
  chroot "$rootfs" adduser --disabled-password --gecos "" admin >/dev/null
  chroot "$rootfs" adduser admin sudo >/dev/null
  install -d -m 0700 "$rootfs/home/admin/.ssh"
  install -m 0600 "$ssh_key" "$rootfs/home/admin/.ssh/authorized_keys"
  chroot "$rootfs" chown -R admin:admin /home/admin/.ssh
  echo 'admin ALL=(ALL) NOPASSWD:ALL' > "$rootfs/etc/sudoers.d/admin" && chmod 0440 "$rootfs/etc/sudoers.d/admin"
  sed -i 's/^#\?PasswordAuthentication.*/PasswordAuthentication no/' "$rootfs/etc/ssh/sshd_config"
fi
# Fresh SSH host keys per device: regenerate on first boot instead of baking one set into every card.
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat > "$rootfs/etc/systemd/system/regenerate-ssh-host-keys.service" <<'EOF'
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
EOF
chroot "$rootfs" systemctl enable regenerate-ssh-host-keys.service systemd-timesyncd.service
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/*

tar --numeric-owner -C "$rootfs" -cf - . | zstd -q -T0 -o "$out/rootfs.tar.zst" -f
echo "rootfs: $rootfs ($(du -sh "$rootfs" | cut -f1)), tarball: $out/rootfs.tar.zst"

# 5. Optional Raspberry Pi SD image: FAT boot partition (firmware, kernel, initrd, config.txt written by
#    raspi-firmware's hooks) + ext4 root, labelled so cmdline.txt can say root=LABEL=RASPIROOT.
[ -n "$image_size" ] || exit 0
img=$out/cl-device-arm64.img
rm -f "$img" && truncate -s "$image_size" "$img"
parted -s "$img" mklabel msdos mkpart primary fat32 4MiB 512MiB mkpart primary ext4 512MiB 100%
loop=$(losetup --show -fP "$img")
trap 'umount -R "$out/mnt" 2>/dev/null || true; losetup -d "$loop" 2>/dev/null || true' EXIT
mkfs.vfat -F 32 -n RASPIFIRM "${loop}p1" >/dev/null
mkfs.ext4 -q -L RASPIROOT "${loop}p2"
mkdir -p "$out/mnt" && mount "${loop}p2" "$out/mnt"
mkdir -p "$out/mnt/boot/firmware" && mount "${loop}p1" "$out/mnt/boot/firmware"
cp -a "$rootfs"/. "$out/mnt/"
printf 'LABEL=RASPIROOT / ext4 rw,noatime 0 1\nLABEL=RASPIFIRM /boot/firmware vfat rw 0 2\n' >> "$out/mnt/etc/fstab"
# raspi-firmware's kernel hook copies kernel, initrd and DTBs to /boot/firmware and writes config.txt/cmdline.txt.
echo 'ROOTPART=LABEL=RASPIROOT' > "$out/mnt/etc/default/raspi-firmware"
for fs in proc sys dev; do mount --bind "/$fs" "$out/mnt/$fs"; done
chroot "$out/mnt" /usr/bin/env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure raspi-firmware
umount -R "$out/mnt"
losetup -d "$loop"
trap - EXIT
echo "image: $img — flash with: dd if=$img of=/dev/sdX bs=4M conv=fsync status=progress"
