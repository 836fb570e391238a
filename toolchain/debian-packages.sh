#!/usr/bin/env bash
# Installs the Debian packages `make setup` needs, only those missing (a second run does nothing).
# Arguments: PATTERN=PACKAGE pairs; PACKAGE counts as installed when a file matches the glob PATTERN.
#   toolchain/debian-packages.sh '/usr/sbin/mosquitto=mosquitto' '/usr/lib/postgresql/*/bin/initdb=postgresql'
set -euo pipefail
shopt -s nullglob
missing=()
for pair in "$@"; do
	pattern=${pair%%=*}
	package=${pair#*=}
	# shellcheck disable=SC2206 # the pattern is a glob on purpose
	found=($pattern)
	[ ${#found[@]} -gt 0 ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing Debian packages: ${missing[*]}"
if [ "$(id -u)" = 0 ]; then
	apt=(apt-get)
elif command -v sudo >/dev/null; then
	apt=(sudo apt-get)
else
	echo "warning: not root and no sudo; install them with: apt-get install ${missing[*]}" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
	|| { "${apt[@]}" update -qq && "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
