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

# python_venv DIR REQUIREMENTS: creates DIR (a venv) and installs REQUIREMENTS (versions pinned in
# tests/constraints.txt, the one pinned tool set) plus the shared test helpers tests/testkit
# (editable: `import testkit` in every suite and the bench), again whenever one of those changed.
python_venv() {
  local dir=$1 requirements=$2
  local inputs=("$requirements" tests/constraints.txt tests/testkit/pyproject.toml)
  [ -x "$dir/bin/python" ] || python3 -m venv "$dir"
  if ! cat "${inputs[@]}" | cmp -s - "$dir/.installed-requirements"; then
    "$dir/bin/pip" install -q --disable-pip-version-check -r "$requirements" -e tests/testkit
    cat "${inputs[@]}" >"$dir/.installed-requirements"
  fi
}
