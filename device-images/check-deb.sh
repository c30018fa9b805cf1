#!/usr/bin/env bash
# Checks a continual-learning .deb built by `dotnet cake --target=PackageDeb`: control fields, the file layout,
# conffiles, modes, the /usr/bin/cl-device symlink, no libtorch (unless amd64 --device-torch), no symbol files, and (when systemd-analyze exists) the unit.
# Usage: device-images/check-deb.sh artifacts/device/continual-learning_<version>_<arch>.deb
set -euo pipefail
deb=${1:?usage: $0 path/to/continual-learning_VERSION_ARCH.deb}
fail() { echo "check-deb: $*" >&2; exit 1; }
[ -f "$deb" ] || fail "$deb does not exist; build it with: dotnet cake --target=PackageDeb"

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = continual-learning ] || fail "Package is '$(field Package)', expected continual-learning"
arch=$(field Architecture)
case "$arch" in arm64|amd64) ;; *) fail "Architecture '$arch' is neither arm64 nor amd64" ;; esac
field Depends | grep -q adduser || fail "Depends lacks adduser (postinst creates the cl-device user)"
field Depends | grep -q libicu && fail "Depends names libicu, but the app uses InvariantGlobalization"

listing=$(dpkg-deb -c "$deb")
has() { grep -qE "$1" <<<"$listing" || fail "missing in the package: $2"; }
has '^-rwxr-xr-x root/root .* \./opt/continual-learning/cl-device$' "/opt/continual-learning/cl-device (0755, root)"
has '^lrwxrwxrwx root/root .* \./usr/bin/cl-device -> /opt/continual-learning/cl-device$' "/usr/bin/cl-device symlink"
has '^-rw-r--r-- root/root .* \./etc/continual-learning/device.json$' "/etc/continual-learning/device.json"
has '^-rw-r--r-- root/root .* \./etc/continual-learning/fleet-public.pem$' "/etc/continual-learning/fleet-public.pem"
has '^-rw-r--r-- root/root .* \./lib/systemd/system/cl-device.service$' "/lib/systemd/system/cl-device.service"
has '\./opt/continual-learning/libonnxruntime.so$' "ONNX Runtime native"
has '\./opt/continual-learning/libe_sqlite3.so$' "SQLite native"
grep -qE '\.(pdb|dbg)$' <<<"$listing" && fail "debug symbols (.pdb/.dbg) in the package"
grep -qE 'onnxruntime[^/]*\.dll$' <<<"$listing" && fail "Windows ONNX Runtime DLLs in a Linux package"
if [ "$arch" = arm64 ] && grep -qE 'libtorch|libLibTorchSharp' <<<"$listing"; then fail "libtorch natives in an arm64 package"; fi

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$work"
diff <(sort "$work/conffiles") <(printf '/etc/continual-learning/device.json\n/etc/continual-learning/fleet-public.pem\n') \
  || fail "conffiles differ from the two files under /etc/continual-learning"
grep -q 'adduser --quiet --system --group --no-create-home' "$work/postinst" || fail "postinst does not create the cl-device system user"
for s in postinst prerm postrm; do [ -x "$work/$s" ] || fail "$s is not executable"; sh -n "$work/$s" || fail "$s has a syntax error"; done

dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" ./lib/systemd/system/cl-device.service ./etc/continual-learning/device.json
unit=$work/lib/systemd/system/cl-device.service
for want in 'User=cl-device' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'NoNewPrivileges=yes' \
            'StateDirectory=continual-learning' 'RuntimeDirectory=continual-learning' 'Restart=on-failure' \
            'Type=notify' 'WatchdogSec=60s' 'CapabilityBoundingSet=' 'DeviceAllow=/dev/gpiochip0 rw' 'SupplementaryGroups=gpio' \
            'ProtectKernelTunables=yes' 'ExecStart=/opt/continual-learning/cl-device run --config /etc/continual-learning/device.json'; do
  grep -qxF "$want" "$unit" || fail "unit lacks '$want'"
done
# Native AOT reads DOTNET_* numbers as bare hex and ignores a value with a 0x prefix, silently.
grep -qE 'DOTNET_[A-Za-z0-9_]+=0[xX]' "$unit" && fail "unit sets a DOTNET_ variable with a 0x prefix, which native AOT ignores (write bare hex)"
grep -q '^ReadWritePaths=' "$unit" && fail "unit has ReadWritePaths= (only the state and runtime directories may be writable)"
grep -q '"transientStore": "/run/continual-learning/' "$work/etc/continual-learning/device.json" || fail "device.json does not put the transient store under /run/continual-learning (the RuntimeDirectory tmpfs)"

if command -v systemd-analyze >/dev/null 2>&1; then
  # verify wants the ExecStart binary to exist; point it at a stand-in in a copy of the unit.
  sed 's|^ExecStart=/opt/continual-learning/cl-device|ExecStart=/bin/true|' "$unit" > "$work/cl-device.service"
  out=$(systemd-analyze verify "$work/cl-device.service" 2>&1 || true)
  # Messages about other units (host-specific) are not ours; any line naming cl-device.service is.
  if grep -q 'cl-device.service' <<<"$out"; then echo "$out" >&2; fail "systemd-analyze verify reported problems in cl-device.service"; fi
  systemd-analyze security --offline=yes "$work/cl-device.service" 2>/dev/null | tail -n 1 || true
fi
echo "check-deb: $deb ok ($arch, $(du -h "$deb" | cut -f1), installed $(( $(field Installed-Size) / 1024 )) MB)"
