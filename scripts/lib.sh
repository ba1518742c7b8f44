# Shared helpers for scripts/setup/*.sh and scripts/stages/*.sh: source it, do not run it.
# shellcheck shell=bash

# apt_install PKG...: installs the Debian packages that are missing; `apt-get update` at most once an hour.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local stamp=/var/lib/apt/periodic/racontemoi-update-stamp
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +60 2>/dev/null)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# python_venv DIR REQUIREMENTS: creates DIR (a venv) and installs REQUIREMENTS when they changed.
python_venv() {
  local dir=$1 requirements=$2
  [ -x "$dir/bin/python" ] || python3 -m venv "$dir"
  if ! cmp -s "$requirements" "$dir/.installed-requirements"; then
    "$dir/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$dir/.installed-requirements"
  fi
}
