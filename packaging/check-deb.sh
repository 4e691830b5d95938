#!/usr/bin/env bash
# Builds the package and installs it on this machine (root): the user, the
# folders, the secrets' owners and modes, and the service user's view of
# the example configuration; then purges it. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/build-deb.sh > /dev/null
deb=$(ls target/debian/sluice_*.deb | tail -1)
contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/sluice-proxy ./usr/bin/sluice-scan ./lib/systemd/system/sluice-proxy.service \
            ./etc/sluice/sluice.toml ./usr/share/doc/sluice/README.md; do
    grep -q " $path\$" <<< "$contents" || { echo "package lacks $path"; exit 1; }
done
dpkg -i "$deb" > /dev/null
trap 'dpkg --purge sluice > /dev/null' EXIT
id sluice > /dev/null
[ "$(stat -c '%U:%G %a' /etc/sluice/api.token)" = "root:sluice 640" ]
[ "$(stat -c '%U:%G %a' /etc/sluice/console.secret)" = "root:sluice 640" ]
[ "$(stat -c '%U:%G %a' /var/lib/sluice)" = "sluice:sluice 750" ]
# Outputs are captured whole before they are matched: `cmd | grep -q` would
# race a reader that leaves at the first match against the writer.
report=$(su -s /bin/sh sluice -c 'sluice-scan check --config /etc/sluice/sluice.toml')
grep -q '^ok: .* 0 warning(s)$' <<< "$report" || { echo "check as sluice: $report"; exit 1; }
# Run as root, check judges the secrets as the service user would meet them.
report=$(sluice-scan check --config /etc/sluice/sluice.toml)
grep -q '^ok: .* 0 warning(s)$' <<< "$report" || { echo "check as root: $report"; exit 1; }
chmod 0600 /etc/sluice/api.token
report=$(sluice-scan check --config /etc/sluice/sluice.toml)
grep -q 'api.token_file: the service user sluice cannot read /etc/sluice/api.token (owner root:sluice mode 0600)' <<< "$report" \
    || { echo "check with an unreadable token: $report"; exit 1; }
chmod 0640 /etc/sluice/api.token
version=$(sluice-proxy --version)
grep -q '^sluice-proxy ' <<< "$version" || { echo "sluice-proxy --version: $version"; exit 1; }
echo "package ok: $deb"
