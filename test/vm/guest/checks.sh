#!/bin/bash
# The checks run inside the test VM (started by the boot hook, test/vm/guest/btf-extra-vm-boot).
# One line per check on stdout: "PASS <name>[: detail]" or "FAIL <name>: <why>"; the host
# (test/vm/run.sh) counts them. Command output goes to $1/checks.log.
# Runs as root on the real Debian 6.1 kernel with systemd as PID 1; the project tree (a clean
# clone of the tested commit, after npm ci) is at /opt/btf-extra.
set -u
results=${1:-/var/tmp/vm-results}
mkdir -p "$results"
log="$results/checks.log"
exec 3>&1 >> "$log" 2>&1   # fd 3: the check lines; everything else: the log
src=/opt/btf-extra
run=/run/btf-extra
status="$run/status.json"
rel=$(uname -r)
unit=btf-extrad

pass() { echo "PASS $1${2:+: $2}" >&3; echo "== PASS $1 ${2:-}"; }
fail() { echo "FAIL $1: $2" >&3; echo "== FAIL $1: $2"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# until_true SECONDS CMD...: poll CMD every 0.25 s; status 0 once it succeeds, 1 on timeout.
until_true() {
  local deadline=$(( $(date +%s) + $1 )); shift
  while ! "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.25
  done
}
state() { jq -r --arg n "$1" '.objects[] | select(.name == $n) | .state' "$status" 2>/dev/null; }
field() { jq -r --arg n "$1" --arg f "$2" '.objects[] | select(.name == $n) | .[$f] // empty' "$status" 2>/dev/null; }
state_is() { [ "$(state "$1")" = "$2" ]; }
tracked() { [ -n "$(state "$1")" ]; }
untracked() { ! tracked "$1"; }
has_var() { # FILE VAR: bpftool (the guest's own) reads FILE split on the running vmlinux BTF and finds VAR
  bpftool -B /sys/kernel/btf/vmlinux btf dump file "$1" 2>>"$log" | grep -q "VAR '$2' "
}
has_var_standalone() { # FILE VAR: the same for a BTF file that is not split (merged/vmlinux)
  bpftool btf dump file "$1" 2>>"$log" | grep -q "VAR '$2' "
}
sha() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
journal_unit() { journalctl -u "$unit" --no-pager -o cat "$@"; }

echo "== checks on $(uname -a) at $(cut -d' ' -f1 /proc/uptime) s uptime"

# --- the system ----------------------------------------------------------------------------------
sys=$(timeout 120 systemctl is-system-running --wait 2>&1)
if [ "$(cat /proc/1/comm)" = systemd ] && [ "$sys" = running ]; then
  pass "system: PID 1 is systemd, is-system-running = running" "$(systemctl --version | head -1)"
else
  fail "system: PID 1 is systemd, is-system-running = running" "PID 1 $(cat /proc/1/comm), state '$sys'; failed units: $(systemctl --failed --no-legend | tr '\n' ' ')"
fi

# --- install exactly as README.md "Installing the service" says -------------------------------------
# The block's commands are taken from the README itself and run one by one in /opt/btf-extra;
# `git clone` and `npm ci` were done on the host (the guest has no network), the last line
# (status && doctor) is checked below.
mapfile -t readme_cmds < <(sh "$src/test/vm/guest/readme-install-commands.sh" "$src/README.md")
if [ "${#readme_cmds[@]}" -lt 5 ]; then
  fail "install: README commands found" "README.md has no 'Installing the service' command block (found ${#readme_cmds[@]} lines)"
fi
for c in "${readme_cmds[@]}"; do
  case "$c" in
    "git clone "*|"npm ci"*) echo "== done on the host: $c"; continue ;;
    "btf-extra status"*) continue ;;
  esac
  t0=$(now)
  if (cd "$src" && timeout 300 bash -c "$c"); then pass "install: $c" "$(since "$t0") s"
  else fail "install: $c" "exit status $? (see checks.log)"; fi
done

# --- the unit under systemd ----------------------------------------------------------------------
show() { systemctl show -p "$1" --value "$unit"; }
if [ "$(show Type)" = notify ] && [ "$(show ActiveState)/$(show SubState)" = active/running ]; then
  # Type=notify: systemctl start returned, so READY=1 arrived; the start job's end is in the journal.
  pass "unit: Type=notify, active (running) after READY" "$(journal_unit | grep -m1 'Started ') "
else
  fail "unit: Type=notify, active (running) after READY" "Type=$(show Type) $(show ActiveState)/$(show SubState): $(journal_unit | tail -3 | tr '\n' ' ')"
fi
st_line=$(systemctl status "$unit" --no-pager 2>&1 | grep -m1 '^ *Status: "')
if [ -n "$st_line" ]; then pass "unit: systemctl status shows the STATUS line" "$(echo "$st_line" | sed 's/^ *//')"
else fail "unit: systemctl status shows the STATUS line" "no 'Status:' line: $(systemctl status "$unit" --no-pager 2>&1 | head -5 | tr '\n' ' ')"; fi
if journal_unit | grep -q 'watching modules by uevent'; then pass "unit: module watcher is kernel uevents (udevadm monitor inside the sandbox)"
else fail "unit: module watcher is kernel uevents (udevadm monitor inside the sandbox)" "$(journal_unit | grep -m1 'watching modules by' || echo 'no start line')"; fi

# --- vmlinux extras --------------------------------------------------------------------------------
t0=$(now)
if until_true 900 state_is vmlinux published; then
  detail="$(field vmlinux vars) vars, $(field vmlinux bytes) bytes, source $(field vmlinux source), published $(since "$t0") s after the unit started"
  if has_var_standalone "$run/merged/vmlinux" init_net && has_var_standalone "$run/merged/vmlinux" jiffies_64 \
     && has_var "$run/btf/vmlinux-btf-extra" init_net; then pass "vmlinux: extras published (bpftool finds init_net, jiffies_64)" "$detail"
  else fail "vmlinux: extras published (bpftool finds init_net, jiffies_64)" "published but bpftool finds no VAR init_net/jiffies_64 in $run/merged/vmlinux (standalone) or btf/vmlinux-btf-extra (on vmlinux)"; fi
else
  fail "vmlinux: extras published (bpftool finds init_net, jiffies_64)" "state '$(state vmlinux)' $(field vmlinux reason)"
fi

# --- modprobe: each module with debug info gets its extras -----------------------------------------
declare -A var_of=([loop]=max_loop [tcp_bbr]=bbr_pacing_gain [crc7]=crc7_be_syndrome_table [cordic]=arctan_table
  [virtio_net]=napi_tx [nf_conntrack]=nf_conntrack_hash_rnd [nf_tables]=chain_id [xfs]=xfs_alloc_wq [btrfs]=btrfs_bioset)
# One burst (as a boot or `modprobe -a` does): each module's time is from the burst to its publish.
mods="loop tcp_bbr crc7 cordic virtio_net nf_conntrack nf_tables xfs btrfs"
t0=$(now)
for m in $mods; do timeout 300 modprobe "$m" || echo "modprobe $m failed"; done
echo "== modprobe burst took $(since "$t0") s"
for m in $mods; do
  name="modprobe $m: extras published, bpftool -B vmlinux finds ${var_of[$m]} in merged/$m"
  if [ ! -d "/sys/module/$m" ]; then fail "$name" "modprobe $m failed"; continue; fi
  if ! until_true 900 state_is "$m" published; then fail "$name" "state '$(state "$m")' $(field "$m" reason)"; continue; fi
  if has_var "$run/merged/$m" "${var_of[$m]}" && [ -f "$run/btf/$m-btf-extra" ]; then
    pass "$name" "$(field "$m" vars) vars via $(field "$m" source), $(since "$t0") s after the burst"
  else
    fail "$name" "published, but no VAR ${var_of[$m]} in $run/merged/$m or no btf/$m-btf-extra"
  fi
done

# --- the CLI as a user reads it ----------------------------------------------------------------------
out=$(timeout 60 btf-extra lookup max_loop 2>&1); rc=$?
if [ $rc = 0 ] && grep -q 'loop' <<< "$out" && grep -q 'int max_loop' <<< "$out"; then pass "btf-extra lookup max_loop" "$(tail -1 <<< "$out" | tr -s ' ')"
else fail "btf-extra lookup max_loop" "exit $rc: $(tr '\n' ' ' <<< "$out")"; fi
out=$(timeout 60 btf-extra lookup init_net 2>&1); rc=$?
if [ $rc = 0 ] && grep -q 'vmlinux' <<< "$out" && grep -q 'struct net init_net' <<< "$out"; then pass "btf-extra lookup init_net" "$(tail -1 <<< "$out" | tr -s ' ')"
else fail "btf-extra lookup init_net" "exit $rc: $(tr '\n' ' ' <<< "$out")"; fi

# A module without debug info (none under /usr/lib/debug for crc_itu_t): state no-debuginfo + hint.
hint="apt-get install linux-image-$rel-dbg"
timeout 60 modprobe crc_itu_t
if until_true 120 state_is crc_itu_t no-debuginfo && [[ "$(field crc_itu_t hint)" == *"$hint"* ]]; then
  pass "modprobe crc_itu_t (no debug info): state no-debuginfo with the install hint" "$(field crc_itu_t hint)"
else
  fail "modprobe crc_itu_t (no debug info): state no-debuginfo with the install hint" "state '$(state crc_itu_t)', hint '$(field crc_itu_t hint)'"
fi

out=$(timeout 60 btf-extra status 2>&1); rc=$?
echo "$out"
if [ $rc = 0 ] && grep -q "kernel $rel" <<< "$out" && grep -Eq '^ *loop +published' <<< "$out" \
   && grep -Eq '^ *crc_itu_t +no-debuginfo' <<< "$out" && grep -qF "install: $hint" <<< "$out"; then
  pass "btf-extra status" "$(head -1 <<< "$out")"
else fail "btf-extra status" "exit $rc; expected kernel $rel, 'loop published', 'crc_itu_t no-debuginfo' and its install hint: $(head -4 <<< "$out" | tr '\n' ' ')"; fi

out=$(timeout 300 btf-extra doctor 2>&1); rc=$?
echo "$out"
if grep -q "$rel" <<< "$out" && grep -q 'crc_itu_t' <<< "$out" && grep -qF "$hint" <<< "$out"; then
  pass "btf-extra doctor" "exit $rc, $(wc -l <<< "$out") lines, names crc_itu_t and the install hint"
else fail "btf-extra doctor" "exit $rc; expected the release, crc_itu_t and '$hint': $(head -5 <<< "$out" | tr '\n' ' ')"; fi

# --- rmmod withdraws ---------------------------------------------------------------------------------
gone() { [ ! -e "$run/merged/$1" ] && [ ! -e "$run/btf/$1-btf-extra" ] && untracked "$1"; }
for m in tcp_bbr crc_itu_t; do
  t0=$(now)
  if timeout 60 rmmod "$m" && until_true 60 gone "$m"; then pass "rmmod $m: extras withdrawn, not in status" "$(since "$t0") s"
  else fail "rmmod $m: extras withdrawn, not in status" "state '$(state "$m")', files: $(ls "$run/merged/$m" "$run/btf/$m-btf-extra" 2>&1 | tr '\n' ' ')"; fi
done

# --- systemctl reload: a policy change (never for nf_*) without losing anything published ---------
conf=/etc/btf-extra/config.yaml
cp "$conf" "$results/config.orig.yaml"
keep="vmlinux loop crc7 cordic virtio_net xfs btrfs"
declare -A before
for m in $keep; do before[$m]=$(sha "$run/merged/$m"); done
pid=$(show MainPID)
sed 's/^  rules: \[\]$/  rules:\n    - match: "nf_*"\n      policy: never/' "$results/config.orig.yaml" > "$conf"
grep -q 'match: "nf_\*"' "$conf" || fail "reload: config edited" "'rules: []' not found in $conf"
systemctl reload "$unit"
if until_true 60 state_is nf_tables skipped && until_true 30 state_is nf_conntrack skipped; then
  lost=""
  for m in $keep; do
    state_is "$m" published && [ "$(sha "$run/merged/$m")" = "${before[$m]}" ] || lost="$lost $m"
  done
  if [ -z "$lost" ] && [ "$(show MainPID)" = "$pid" ]; then pass "systemctl reload: policy never for nf_* applied, nothing else lost" "nf_tables, nf_conntrack skipped; $keep unchanged"
  else fail "systemctl reload: policy never for nf_* applied, nothing else lost" "changed or lost:$lost; MainPID $pid -> $(show MainPID)"; fi
else
  fail "systemctl reload: policy never for nf_* applied, nothing else lost" "nf_tables '$(state nf_tables)', nf_conntrack '$(state nf_conntrack)'"
fi

# An invalid file is refused and the previous config stays (the one warning this run provokes on purpose).
cp "$conf" "$results/config.never.yaml"
printf 'jobs:\n  concurrency: many\n' >> "$conf"
systemctl reload "$unit"
if until_true 60 bash -c "journalctl -u $unit --no-pager -o cat | grep -q 'config not reloaded, keeping the previous one'" \
   && sleep 1 && state_is nf_tables skipped && state_is loop published; then
  pass "systemctl reload of an invalid config: refused, previous policy kept" "$(journal_unit | grep -m1 'config not reloaded')"
else fail "systemctl reload of an invalid config: refused, previous policy kept" "no 'config not reloaded' line, or states changed (nf_tables '$(state nf_tables)')"; fi
cp "$results/config.orig.yaml" "$conf"
systemctl reload "$unit"
if until_true 120 state_is nf_tables published && until_true 60 state_is nf_conntrack published; then pass "systemctl reload back to the default policy: nf_* published again" "nf_tables from $(field nf_tables source)"
else fail "systemctl reload back to the default policy: nf_* published again" "nf_tables '$(state nf_tables)', nf_conntrack '$(state nf_conntrack)'"; fi

# --- systemctl restart: everything comes back from the cache, same bytes ------------------------------
objs="vmlinux loop crc7 cordic virtio_net nf_conntrack nf_tables xfs btrfs"
for m in $objs; do before[$m]=$(sha "$run/merged/$m"); done
t0=$(now)
timeout 300 systemctl restart "$unit"
inv=$(show InvocationID)
all_published() { for m in $objs; do state_is "$m" published || return 1; done; }
if until_true 300 all_published; then
  took=$(since "$t0")
  not_cache="" changed=""
  for m in $objs; do
    [ "$(field "$m" source)" = cache ] || not_cache="$not_cache $m:$(field "$m" source)"
    [ "$(sha "$run/merged/$m")" = "${before[$m]}" ] || changed="$changed $m"
  done
  encoded=$(journalctl _SYSTEMD_INVOCATION_ID="$inv" --no-pager -o cat | grep -c 'encoded from')
  if [ -z "$not_cache$changed" ] && [ "$encoded" = 0 ]; then pass "systemctl restart: all served from the cache, no encoder run, same bytes" "$took s to all published"
  else fail "systemctl restart: all served from the cache, no encoder run, same bytes" "not from cache:$not_cache; bytes changed:$changed; 'encoded from' lines: $encoded"; fi
else
  fail "systemctl restart: all served from the cache, no encoder run, same bytes" "not all published: $(for m in $objs; do printf '%s=%s ' "$m" "$(state "$m")"; done)"
fi

# --- companions: extras loaded into the running kernel (destination both) ---------------------------
bpf=$src/.vm-bpf
kfield() { jq -r --arg n "$1" --arg f "$2" '.objects[] | select(.name == $n) | .kernel[$f] // empty' "$status" 2>/dev/null; }
kstate_is() { [ "$(kfield "$1" state)" = "$2" ]; }
# kloaded_within SECONDS NAME: NAME's companion reaches 'loaded'; a final 'not-loaded' ends the wait
# at once (a refused companion must fail its check, not sit out the whole timeout).
kloaded_within() { until_true "$1" ksettled "$2"; kstate_is "$2" loaded; }
ksettled() { case "$(kfield "$1" state)" in loaded|not-loaded) return 0 ;; *) return 1 ;; esac; }
# clean_dmesg STEP: no BUG/Oops/WARNING since the last call (each ordering step is checked on its own).
dmesg_mark=$(dmesg | wc -l)
clean_dmesg() {
  local new; new=$(dmesg | tail -n +"$((dmesg_mark + 1))" | grep -E 'BUG:|Oops|WARNING:|general protection|RIP: ' | head -3)
  dmesg_mark=$(dmesg | wc -l)
  if [ -z "$new" ]; then return 0; fi
  echo "== dmesg after $1: $new"; return 1
}
# ksym OBJECT [ARGS]: run a BPF test program; its .bss values as "name=value" lines.
ksym() { timeout 120 "$bpf/ksym_run" "$bpf/$1.bpf.o" "${@:2}" 2>>"$log"; }
val() { grep -m1 "^$1=" | cut -d= -f2; }

# As README "Kernel-native extras" says: destination both in the config, the unit's drop-in, a restart.
sed -i 's/^destination: files$/destination: both/' "$conf"
grep -q '^destination: both$' "$conf" || fail "companions: config set to destination both" "no 'destination: files' line in $conf"
install -Dm644 "$src/systemd/kernel-companions.conf" /etc/systemd/system/btf-extrad.service.d/kernel-companions.conf
systemctl daemon-reload
t0=$(now)
timeout 300 systemctl restart "$unit"
# A base that exports a symbol is held by the companion importing it (the loader records the use);
# one that exports nothing by a pinned BPF program naming a VAR through the base's BTF object.
held="crc7 cordic nf_conntrack nf_tables"   # export symbols
pinned="loop virtio_net xfs btrfs"          # export nothing
if kloaded_within 600 vmlinux && [ -e /sys/kernel/btf/vmlinux_btf_extra ]; then
  pass "companion: vmlinux_btf_extra loaded, in /sys/kernel/btf" "$(since "$t0") s after the restart; $(kfield vmlinux variables) variables; $(kfield vmlinux hold)"
else fail "companion: vmlinux_btf_extra loaded, in /sys/kernel/btf" "kernel state '$(kfield vmlinux state)': $(kfield vmlinux reason) [$(kfield vmlinux code)]"; fi
missing=""
for m in $held; do
  if kloaded_within 300 "$m" && [ -e "/sys/kernel/btf/${m}_btf_extra" ] && [[ "$(kfield "$m" hold)" == imports* ]]; then echo "== $m: $(kfield "$m" hold)"
  else missing="$missing $m:'$(kfield "$m" state)' $(kfield "$m" reason) [$(kfield "$m" code)];"; fi
done
if [ -z "$missing" ]; then pass "companions of modules with exports loaded, each importing one ($held)" "$(since "$t0") s; crc7: $(kfield crc7 hold | cut -c1-60)"
else fail "companions of modules with exports loaded, each importing one ($held)" "$missing"; fi
missing=""
for m in $pinned; do
  if kloaded_within 300 "$m" && [ -e "/sys/kernel/btf/${m}_btf_extra" ] && [ -e "/sys/fs/bpf/btf-extra/hold-$m" ] \
     && [ "$(cat "/sys/module/$m/refcnt")" -ge 1 ]; then echo "== $m: $(kfield "$m" hold)"
  else missing="$missing $m:'$(kfield "$m" state)' $(kfield "$m" reason) [$(kfield "$m" code)];"; fi
done
if [ -z "$missing" ]; then pass "companions of modules without exports loaded, each held by a pinned BPF program ($pinned)" "loop refcnt $(cat /sys/module/loop/refcnt); $(kfield loop hold | cut -c1-110)"
else fail "companions of modules without exports loaded, each held by a pinned BPF program ($pinned)" "$missing pins: $(ls /sys/fs/bpf/btf-extra 2>&1 | tr '\n' ' ')"; fi
out=$(timeout 60 btf-extra status 2>&1)
if grep -q 'in the kernel:' <<< "$out" && grep -q 'crc7: loaded /sys/kernel/btf/crc7_btf_extra' <<< "$out" && grep -q 'loop: loaded /sys/kernel/btf/loop_btf_extra' <<< "$out"; then pass "btf-extra status shows /sys/kernel/btf/<name>_btf_extra"
else fail "btf-extra status shows /sys/kernel/btf/<name>_btf_extra" "$(tail -5 <<< "$out" | tr '\n' '|')"; fi
clean_dmesg "companion inserts" && pass "dmesg clean after inserting the companions" || fail "dmesg clean after inserting the companions" "see checks.log"

# BPF programs with __ksym externs read live values (vmlinux).
out=$(ksym ksym_vmlinux --repeat 2 --interval-ms 300); rc=$?
echo "$out"
inum=$(stat -L -c %i /proc/1/ns/net)
possible=$(awk -F- '{ print ($2 == "" ? $1 : $2) + 1 }' /sys/devices/system/cpu/possible)
j1=$(val jiffies64 <<< "$out"); j2=$(grep '^jiffies64=' <<< "$out" | tail -1 | cut -d= -f2)
if [ $rc = 0 ] && [ "$(val init_net_ns_inum <<< "$out")" = "$inum" ] && [ "$(val nr_cpus <<< "$out")" = "$possible" ] \
   && [ -n "$j1" ] && [ -n "$j2" ] && [ "$j2" -gt "$j1" ]; then
  pass "BPF __ksym: init_net.ns.inum, nr_cpu_ids, jiffies_64 read live" "inum $inum, nr_cpu_ids $possible, jiffies_64 $j1 -> $j2"
else fail "BPF __ksym: init_net.ns.inum, nr_cpu_ids, jiffies_64 read live" "exit $rc: $(tr '\n' ' ' <<< "$out") (want inum $inum, nr_cpu_ids $possible, rising jiffies); $(tail -2 "$log" | tr '\n' ' ')"; fi

# The base is held: rmmod and modprobe -r of crc7 are refused while its companion is loaded.
if ! timeout 30 rmmod crc7 2>>"$log" && ! timeout 30 modprobe -r crc7 2>>"$log" && [ -d /sys/module/crc7 ] && clean_dmesg "rmmod crc7 (held)"; then
  pass "rmmod crc7 / modprobe -r crc7 refused while crc7_btf_extra is loaded" "holders: $(ls /sys/module/crc7/holders | tr '\n' ' ')"
else fail "rmmod crc7 / modprobe -r crc7 refused while crc7_btf_extra is loaded" "crc7 $( [ -d /sys/module/crc7 ] && echo present || echo GONE)"; fi

# A program using crc7_btf_extra pins it: release fails while it runs, works after; then crc7 unloads.
ksym ksym_crc7 --repeat 16 --interval-ms 500 > "$results/ksym_crc7_held.txt" &
kpid=$!
until_true 60 grep -q '^syndrome_1=' "$results/ksym_crc7_held.txt"
held_ok=1
timeout 60 btf-extra release crc7 >>"$log" 2>&1 && held_ok=0
timeout 30 rmmod crc7_btf_extra 2>>"$log" && held_ok=0
timeout 30 rmmod crc7 2>>"$log" && held_ok=0
[ -d /sys/module/crc7 ] && [ -d /sys/module/crc7_btf_extra ] || held_ok=0
clean_dmesg "release while a program uses the companion" || held_ok=0
wait "$kpid"; krc=$?
if [ $held_ok = 1 ] && [ $krc = 0 ] && [ "$(grep -c '^syndrome_1=18$' "$results/ksym_crc7_held.txt")" = 16 ]; then
  pass "a running BPF program pins crc7_btf_extra: release, rmmod of either refused; the program reads crc7_be_syndrome_table[1] = 0x12 to the end"
else fail "a running BPF program pins crc7_btf_extra: release, rmmod of either refused; the program reads crc7_be_syndrome_table[1] = 0x12 to the end" "held_ok $held_ok, ksym_run exit $krc, $(tr '\n' ' ' < "$results/ksym_crc7_held.txt" | cut -c1-200)"; fi
t0=$(now)
if timeout 60 btf-extra release crc7 >>"$log" 2>&1 && [ ! -d /sys/module/crc7_btf_extra ] && timeout 60 modprobe -r crc7 \
   && until_true 60 untracked crc7 && clean_dmesg "release + modprobe -r crc7"; then
  pass "btf-extra release crc7, then modprobe -r crc7: companion first, then the base; dmesg clean" "$(since "$t0") s"
else fail "btf-extra release crc7, then modprobe -r crc7: companion first, then the base; dmesg clean" "crc7 $( [ -d /sys/module/crc7 ] && echo present), crc7_btf_extra $( [ -d /sys/module/crc7_btf_extra ] && echo present), state '$(state crc7)'"; fi

# modprobe crc7 again: the companion comes back (extras from the cache) and a program reads the table.
t0=$(now)
timeout 60 modprobe crc7
if kloaded_within 300 crc7; then
  out=$(ksym ksym_crc7); rc=$?
  if [ $rc = 0 ] && [ "$(val syndrome_1 <<< "$out")" = 18 ] && clean_dmesg "crc7 read"; then
    pass "modprobe crc7 again: crc7_btf_extra back, a BPF program reads the live table" "$(since "$t0") s; extras from $(field crc7 source)"
  else fail "modprobe crc7 again: crc7_btf_extra back, a BPF program reads the live table" "exit $rc: $(tr '\n' ' ' <<< "$out")"; fi
else fail "modprobe crc7 again: crc7_btf_extra back, a BPF program reads the live table" "kernel state '$(kfield crc7 state)': $(kfield crc7 reason)"; fi

# loop: held by its pinned program; released, it unloads; `modprobe loop max_loop=13` brings the
# companion back (extras from the cache) and a BPF program reads 13.
if ! timeout 30 rmmod loop 2>>"$log" && ! timeout 30 modprobe -r loop 2>>"$log" && [ -d /sys/module/loop ] && clean_dmesg "rmmod loop (pinned hold)"; then
  pass "rmmod loop / modprobe -r loop refused while loop_btf_extra is loaded (pinned-program hold)" "refcnt $(cat /sys/module/loop/refcnt)"
else fail "rmmod loop / modprobe -r loop refused while loop_btf_extra is loaded (pinned-program hold)" "loop $( [ -d /sys/module/loop ] && echo present || echo GONE)"; fi
out=$(ksym ksym_loop); rc=$?
before=$(val max_loop_value <<< "$out")
t0=$(now)
if timeout 60 btf-extra release loop >>"$log" 2>&1 && [ ! -d /sys/module/loop_btf_extra ] && [ ! -e /sys/fs/bpf/btf-extra/hold-loop ] \
   && timeout 60 modprobe -r loop && until_true 60 untracked loop && clean_dmesg "release + modprobe -r loop"; then
  pass "btf-extra release loop, then modprobe -r loop: companion, then pin, then the base; dmesg clean" "$(since "$t0") s; max_loop read $before before"
else fail "btf-extra release loop, then modprobe -r loop: companion, then pin, then the base; dmesg clean" "loop $( [ -d /sys/module/loop ] && echo present), companion $( [ -d /sys/module/loop_btf_extra ] && echo present), pin $(ls /sys/fs/bpf/btf-extra 2>&1 | tr '\n' ' ')"; fi
t0=$(now)
timeout 60 modprobe loop max_loop=13
if kloaded_within 300 loop; then
  out=$(ksym ksym_loop); rc=$?
  if [ $rc = 0 ] && [ "$(val max_loop_value <<< "$out")" = 13 ] && clean_dmesg "max_loop read"; then
    pass "modprobe loop max_loop=13: loop_btf_extra back, a BPF program reads max_loop = 13" "$(since "$t0") s; extras from $(field loop source)"
  else fail "modprobe loop max_loop=13: loop_btf_extra back, a BPF program reads max_loop = 13" "exit $rc: $(tr '\n' ' ' <<< "$out")"; fi
else fail "modprobe loop max_loop=13: loop_btf_extra back, a BPF program reads max_loop = 13" "kernel state '$(kfield loop state)': $(kfield loop reason)"; fi

# Daemon restart: the companions stay in the kernel and are adopted, not inserted again.
inv_before=$(show InvocationID)
timeout 300 systemctl restart "$unit"
inv=$(show InvocationID)
adopted() { for m in vmlinux crc7 loop; do kstate_is "$m" loaded || return 1; done; }
inserted=$(journalctl _SYSTEMD_INVOCATION_ID="$inv" --no-pager -o cat | grep -c 'inserted companion')
if [ "$inv" != "$inv_before" ] && until_true 300 adopted && [ "$inserted" = 0 ] && [ -e /sys/kernel/btf/vmlinux_btf_extra ] && clean_dmesg "restart"; then
  pass "systemctl restart: companions stay loaded and are adopted, none inserted again" "$(journalctl _SYSTEMD_INVOCATION_ID="$inv" --no-pager -o cat | grep -c 'companion already loaded') adopted"
else fail "systemctl restart: companions stay loaded and are adopted, none inserted again" "vmlinux '$(kfield vmlinux state)', loop '$(kfield loop state)', inserted lines $inserted"; fi

# Back to destination files: every generated companion leaves the kernel, holds dropped, bases free.
sed -i 's/^destination: both$/destination: files/' "$conf"
systemctl reload "$unit"
# The daemon takes each companion out, then drops its hold: wait for both (the last pin goes a moment
# after the last companion).
none_left() { ! ls /sys/kernel/btf | grep -q '_btf_extra$' && [ -z "$(ls /sys/fs/bpf/btf-extra 2>/dev/null)" ]; }
if until_true 120 none_left && timeout 30 rmmod crc7 && timeout 30 rmmod loop && clean_dmesg "destination files"; then
  pass "reload to destination files: all companions removed, holds dropped, crc7 and loop unload" "$(ls /sys/kernel/btf | wc -l) BTF objects left"
else fail "reload to destination files: all companions removed, holds dropped, crc7 and loop unload" "left: $(ls /sys/kernel/btf | grep _btf_extra | tr '\n' ' ') pins: $(ls /sys/fs/bpf/btf-extra 2>&1 | tr '\n' ' ')"; fi

# --- over the whole run --------------------------------------------------------------------------------
wd=$(journalctl --no-pager -o cat | grep -i 'watchdog timeout' | head -3)
if [ "$(show NRestarts)" = 0 ] && [ -z "$wd" ] && [ "$(show WatchdogUSec)" != 0 ] && [ "$(show WatchdogTimestampMonotonic)" != 0 ]; then
  pass "watchdog: pinged, never fired, no automatic restart" "WatchdogUSec=$(show WatchdogUSec), last ping $(show WatchdogTimestamp)"
else fail "watchdog: pinged, never fired, no automatic restart" "NRestarts=$(show NRestarts) WatchdogUSec=$(show WatchdogUSec) last ping '$(show WatchdogTimestamp)' $wd"; fi

# Warnings and worse from the unit: only what this run provoked on purpose.
expected='config not reloaded, keeping the previous one'
journal_unit -p warning > "$results/warnings.txt"
unexpected=$(grep -v -e "$expected" "$results/warnings.txt")
if [ -z "$unexpected" ] && grep -q "$expected" "$results/warnings.txt"; then pass "journalctl -u $unit -p warning: only the provoked invalid-config line" "$(wc -l < "$results/warnings.txt") line(s)"
else fail "journalctl -u $unit -p warning: only the provoked invalid-config line" "unexpected: $(head -5 <<< "$unexpected" | tr '\n' '|')"; fi

bad=$(dmesg | grep -E 'BUG:|Oops|WARNING:|general protection|Call Trace|RIP: ' | head -5)
if [ -z "$bad" ]; then pass "dmesg: no BUG, Oops or WARNING" "$(dmesg | grep -c 'BTF') BTF lines"
else fail "dmesg: no BUG, Oops or WARNING" "$(tr '\n' '|' <<< "$bad")"; fi
exit 0
