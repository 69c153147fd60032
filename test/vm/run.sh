#!/usr/bin/env bash
# npm run test:vm: the real-kernel test bed (README "Real-kernel test bed (VM)").
# Boots the Debian 6.1 kernel from ../shared under QEMU (TCG) with a Debian 12 root filesystem
# whose PID 1 is systemd, installs the committed HEAD of this repository in it the way the README
# tells an admin, runs test/vm/guest/checks.sh inside, prints one line per check and a final
# "N passed, N failed" line. Exit status 0 only when every check passed.
#
# Environment:
#   BTF_EXTRA_SHARED        the shared data (default <repo>/../shared); absent: skip (exit 0)
#   BTF_EXTRA_VM_CACHE      image cache (default ${XDG_CACHE_HOME:-/var/cache}/btf-extra-vm)
#   BTF_EXTRA_VM_TIMEOUT    seconds the guest's checks may take (default 1800); QEMU gets +300
#   BTF_EXTRA_COUNTS_FILE   if set, "vm <passed> <failed> <skipped>" is appended to it
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=${BTF_EXTRA_SHARED:-$repo/../shared}
kdir="$shared/kernel/debian-6.1.0-56-cloud-amd64"
cache=${BTF_EXTRA_VM_CACHE:-${XDG_CACHE_HOME:-/var/cache}/btf-extra-vm}
guest_timeout=${BTF_EXTRA_VM_TIMEOUT:-1800}
t_start=$SECONDS

finish() { # passed failed skipped
  [ -z "${BTF_EXTRA_COUNTS_FILE:-}" ] || echo "vm $1 $2 $3" >> "$BTF_EXTRA_COUNTS_FILE"
  if [ "$3" -gt 0 ]; then echo "$1 passed, $2 failed, $3 skipped"; else echo "$1 passed, $2 failed"; fi
  [ "$2" -eq 0 ] && exit 0 || exit 1
}

if [ ! -f "$kdir/image/SHA256SUMS" ]; then
  echo "skipping the VM test bed: $kdir is not present (set BTF_EXTRA_SHARED to the shared data)"
  finish 0 0 1
fi
missing=""
for tool in qemu-system-x86_64 mmdebstrap mkfs.ext4 cpio busybox depmod dpkg-deb xz git npm node file; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  echo "FAIL setup: missing tools:$missing (apt-get install qemu-system-x86 mmdebstrap e2fsprogs cpio busybox-static kmod xz-utils git file)"
  finish 0 1 0
fi
(cd "$kdir" && sha256sum --quiet -c image/SHA256SUMS) || { echo "FAIL setup: kernel package does not match image/SHA256SUMS"; finish 0 1 0; }
rel=$(basename "$kdir" | sed 's/^debian-//')
mkdir -p "$cache"
exec 9> "$cache/lock"
flock -w 3600 9 || { echo "FAIL setup: $cache/lock held for an hour"; finish 0 1 0; }

# --- base image: keyed by everything it is built from, never by the project's commit -------------
key=$( {
  cat "$here/build-base.sh" "$here/packages.txt" "$here/guest/initramfs-init" \
      "$here/guest/btf-extra-vm-boot" "$here/guest/btf-extra-vm.service"
  cat "$kdir/image/SHA256SUMS" "$kdir/meta/vmlinux.debug.sha256" "$kdir/meta/build-ids.tsv"
  (cd "$kdir/debug" && sha256sum ./*.ko)
  node --version; npm --version; sha256sum < "$(command -v busybox)"
} | sha256sum | cut -c1-16)
base="$cache/base-$key"
if [ -f "$base/complete" ]; then
  echo "vm: base image $base (cached)"
else
  echo "vm: building the base image $base (cold; a few minutes)"
  t0=$SECONDS
  rm -rf "$base.tmp"
  deb_key=$(sha256sum < "$here/packages.txt" | cut -c1-16)
  if ! "$here/build-base.sh" "$base.tmp" "$kdir" "$cache/debootstrap-$deb_key.tar" > "$cache/build-base.log" 2>&1; then
    tail -20 "$cache/build-base.log"
    echo "FAIL setup: base image build failed (log: $cache/build-base.log)"
    finish 0 1 0
  fi
  touch "$base.tmp/complete"
  for old in "$cache"/base-* "$cache"/debootstrap-*.tar; do
    [ "$old" = "$base.tmp" ] || [ "$old" = "$cache/debootstrap-$deb_key.tar" ] || rm -rf "$old"
  done
  mv "$base.tmp" "$base"
  echo "vm: base image built in $((SECONDS - t0)) s"
fi

# --- payload: a clean clone of the committed HEAD, npm ci (builds dist/), as a tar --------------
head=$(git -C "$repo" rev-parse HEAD)
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "vm: note: uncommitted changes in $repo are not tested; the VM gets the committed HEAD ${head:0:12}"
fi
payload="$cache/payload-$head.tar"
if [ -f "$payload" ]; then
  echo "vm: payload $payload (cached)"
else
  t0=$SECONDS
  work=$(mktemp -d "$cache/payload.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  git clone -q --no-checkout "$repo" "$work/btf-extra"
  git -C "$work/btf-extra" checkout -q --detach "$head"
  if ! (cd "$work/btf-extra" && timeout 900 npm ci --no-audit --no-fund --loglevel=error) > "$work/npm-ci.log" 2>&1; then
    tail -20 "$work/npm-ci.log"
    echo "FAIL setup: npm ci in the clean clone failed"
    finish 0 1 0
  fi
  # The BPF test programs of the companion checks, built here (the guest has no compiler).
  if ! "$repo/test/vm/bpf/build.sh" "$work/btf-extra/.vm-bpf" > "$work/bpf-build.log" 2>&1; then
    echo "vm: note: test/vm/bpf/build.sh failed (the BPF checks will fail): $(tail -1 "$work/bpf-build.log")"
  fi
  tar -cf "$payload.tmp" -C "$work" btf-extra
  mv "$payload.tmp" "$payload"
  rm -rf "$work"; trap - EXIT
  for old in "$cache"/payload-*.tar; do [ "$old" = "$payload" ] || rm -f "$old"; done
  echo "vm: payload built in $((SECONDS - t0)) s ($(du -sh "$payload" | cut -f1))"
fi

# --- boot once, run every check ------------------------------------------------------------------
run="$cache/run"
rm -rf "$run"; mkdir -p "$run"
truncate -s 64M "$run/results.img"
: > "$run/lines.txt"
echo "vm: booting $rel under QEMU (TCG, 2 vCPUs); guest time limit ${guest_timeout} s; logs in $run"
t0=$SECONDS
set +e
timeout -k 10 $((guest_timeout + 300)) qemu-system-x86_64 -machine q35 -cpu max -m 3G -smp 2 \
  -nographic -no-reboot -nodefaults \
  -kernel "$base/vmlinuz" -initrd "$base/initrd.img" \
  -append "console=ttyS0 panic=-1 loglevel=4 btf_extra_vm.timeout=$guest_timeout" \
  -drive "file=$base/rootfs.ext4,format=raw,if=none,id=root,snapshot=on" -device virtio-blk-pci,drive=root \
  -drive "file=$payload,format=raw,if=none,id=payload,readonly=on" -device virtio-blk-pci,drive=payload,serial=btfx-payload \
  -drive "file=$run/results.img,format=raw,if=none,id=results" -device virtio-blk-pci,drive=results,serial=btfx-results \
  -serial "file:$run/console.log" -serial "file:$run/lines.txt" \
  > "$run/qemu.log" 2>&1
qemu_rc=$?
set -e
boot_s=$(sed -n 's/^BOOTED \([0-9.]*\).*/\1/p' "$run/lines.txt" | tr -d '\r')
echo "vm: QEMU ran $((SECONDS - t0)) s (guest reached its test hook at ${boot_s:-?} s uptime), exit $qemu_rc"
(cd "$run" && tar -xf results.img 2>/dev/null) || true

passed=0 failed=0
while IFS= read -r line; do
  line=${line%$'\r'}
  case "$line" in
    "PASS "*) passed=$((passed + 1)); echo "ok    ${line#PASS }" ;;
    "FAIL "*) failed=$((failed + 1)); echo "FAIL  ${line#FAIL }" ;;
  esac
done < "$run/lines.txt"
if ! grep -q '^END' "$run/lines.txt"; then
  failed=$((failed + 1))
  echo "FAIL  guest run: did not finish (QEMU exit $qemu_rc; timeout or crash): see $run/console.log"
  tail -15 "$run/console.log" | tr -d '\r'
elif ! grep -q '^EXIT 0' "$run/lines.txt"; then
  [ "$failed" -gt 0 ] || { failed=$((failed + 1)); echo "FAIL  guest run: checks.sh exited $(sed -n 's/^EXIT //p' "$run/lines.txt" | tr -d '\r')"; }
fi
echo "vm: whole run $((SECONDS - t_start)) s; guest logs (journal, dmesg, status.json) in $run/vm-results"
finish "$passed" "$failed" 0
