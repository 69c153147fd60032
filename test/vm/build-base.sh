#!/usr/bin/env bash
# Builds the VM's base image (what does not change from one project commit to the next) into $1:
#   rootfs.ext4  Debian 12 (mmdebstrap minbase + test/vm/packages.txt), PID 1 systemd, the kernel's
#                modules (from the kernel .deb, depmod'ed), the debug files the way
#                linux-image-<rel>-dbg lays them out, the host's node + npm, and the boot hook
#                (guest/btf-extra-vm-boot + its unit) that runs each run's payload
#   vmlinuz      the kernel
#   initrd.img   a busybox initramfs: insmod virtio_pci + virtio_blk, mount /dev/vda, switch_root
# Called by test/vm/run.sh (which decides whether the cached copy is still good); usage:
#   build-base.sh OUT_DIR KERNEL_DIR [DEBOOTSTRAP_TAR]
set -euo pipefail
out=$1 kdir=$2
here=$(cd "$(dirname "$0")" && pwd)
rel=$(basename "$kdir" | sed 's/^debian-//')
deb=$(ls "$kdir"/image/linux-image-*.deb)
mkdir -p "$out"
root="$out/rootfs"
rm -rf "$root"
t0=$SECONDS

# The Debian part depends only on packages.txt: kept as a tar ($3) so that changes to the rest
# of the image do not download and unpack the packages again.
base_tar=${3:-$out/debootstrap.tar}
if [ ! -f "$base_tar" ]; then
  pkgs=$(grep -v '^#' "$here/packages.txt" | paste -sd, -)
  echo "vm: mmdebstrap bookworm minbase ($pkgs)"
  timeout 900 mmdebstrap --quiet --format=tar --variant=minbase --include="$pkgs" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$base_tar.tmp" http://deb.debian.org/debian
  mv "$base_tar.tmp" "$base_tar"
  echo "vm: mmdebstrap took $((SECONDS - t0)) s"
fi
mkdir -p "$root"
tar --numeric-owner -xf "$base_tar" -C "$root"

# The kernel: files of the .deb, modules.dep made the way its postinst would (depmod).
# (--keep-directory-symlink: /lib is a symlink to usr/lib in bookworm and must stay one.)
dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$root"
depmod -b "$root" "$rel"
cp "$root/boot/vmlinuz-$rel" "$out/vmlinuz"

# Debug files as linux-image-<rel>-dbg lays them out (host-facts.md): modules under
# /usr/lib/debug/lib/modules/<rel>/kernel/<path as shipped>, vmlinux at /usr/lib/debug/boot/vmlinux-<rel>.
dbg="$root/usr/lib/debug"
while IFS=$'\t' read -r name path _id; do
  f="$kdir/debug/$(basename "$path")"
  [ -f "$f" ] || continue
  install -D -m644 "$f" "$dbg/lib/modules/$rel/kernel/$path"
done < "$kdir/meta/build-ids.tsv"
mkdir -p "$dbg/boot"
xz -dc "$kdir/vmlinux.debug.xz" > "$dbg/boot/vmlinux-$rel"
want=$(cut -d' ' -f1 < "$kdir/meta/vmlinux.debug.sha256")
got=$(sha256sum "$dbg/boot/vmlinux-$rel" | cut -d' ' -f1)
[ "$want" = "$got" ] || { echo "vm: vmlinux.debug sha256 $got, expected $want" >&2; exit 1; }

# Node.js and npm: Debian 12's nodejs is 18.19, the project needs >= 20.19, so the host's are copied
# (the same way an admin installs NodeSource's package: /usr/bin/node, /usr/lib/node_modules/npm).
install -m755 "$(command -v node)" "$root/usr/bin/node"
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$root/usr/lib/node_modules"
cp -a "$npm_dir" "$root/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"

# The guest has no network: npm must not try the registry (npm install -g . of a folder needs nothing from it).
printf 'offline=true\naudit=false\nfund=false\nupdate-notifier=false\n' > "$root/etc/npmrc"
printf 'btf-extra-vm\n' > "$root/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$root/etc/fstab"
: > "$root/etc/machine-id"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS1.service"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
# The boot hook that runs each run's payload (test/vm/guest/), then powers off.
install -m755 "$here/guest/btf-extra-vm-boot" "$root/usr/local/sbin/btf-extra-vm-boot"
install -m644 "$here/guest/btf-extra-vm.service" "$root/etc/systemd/system/btf-extra-vm.service"
ln -sf ../btf-extra-vm.service "$root/etc/systemd/system/multi-user.target.wants/btf-extra-vm.service"
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/* "$root/boot"/*

size_mb=$(( $(du -sm "$root" | cut -f1) + 1024 ))
rm -f "$out/rootfs.ext4"
mkfs.ext4 -q -F -E root_owner=0:0 -L btf-extra-vm -d "$root" "$out/rootfs.ext4" "${size_mb}M"

# initramfs: static busybox + the virtio modules the disk needs (VIRTIO_PCI=m, VIRTIO_BLK=m).
ird="$out/initrd"
rm -rf "$ird"
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lib/modules}
cp /bin/busybox "$ird/bin/busybox"
file "$ird/bin/busybox" | grep -q 'statically linked' || { echo "vm: /bin/busybox is not static (install busybox-static)" >&2; exit 1; }
# Load order from modules.dep (a module's dependencies are listed last-loaded-first).
dep="$root/lib/modules/$rel/modules.dep"
mods=""
for want in virtio_pci virtio_blk; do
  line=$(grep -E "/$want\.ko:" "$dep") || { echo "vm: $want.ko not in modules.dep" >&2; exit 1; }
  for p in $(echo "${line#*:}" | tr ' ' '\n' | tac) "${line%%:*}"; do
    m=$(basename "$p" .ko)
    case " $mods " in *" $m "*) continue ;; esac
    cp "$root/lib/modules/$rel/$p" "$ird/lib/modules/"
    mods="$mods $m"
  done
done
sed "s/@MODULES@/${mods# }/" "$here/guest/initramfs-init" > "$ird/init"
chmod 755 "$ird/init"
(cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.img"
rm -rf "$ird" "$root"
echo "vm: base image built in $((SECONDS - t0)) s ($(du -sh --apparent-size "$out/rootfs.ext4" | cut -f1) disk)"
