# Shared by scripts/run, scripts/test and scripts/bench: install what is missing, nothing more.
# shellcheck shell=bash

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian/Ubuntu packages among "$@" that are not installed yet.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Rust itself must already be there; everything else is installed on demand.
ensure_rust() {
  command -v cargo >/dev/null || { echo "cargo is missing: install Rust from https://rustup.rs" >&2; exit 1; }
}

# A venv under target/ with the Python peers (botocore from PyPI) pinned in tests/peers.
ensure_peer_venv() {
  local venv="$root/target/peer-venv" req="$root/tests/peers/requirements.txt"
  if [ -x "$venv/bin/python" ] && cmp -s "$req" "$venv/requirements.txt"; then return 0; fi
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then ensure_packages python3-venv; fi
  say "creating the peer venv (botocore) in target/peer-venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  cp "$req" "$venv/requirements.txt"
}

# The packages that build the tray app (Tauri 2 on WebKitGTK).
APP_BUILD_PACKAGES=(libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev)

# Installs the crates.io tool "$1" at version "$2" into target/tools, unless it is there already;
# "$3" names its binary when that is not the crate's name.
ensure_cargo_tool() {
  local crate=$1 version=$2 bin="$root/target/tools/bin/${3:-$1}" stamp="$root/target/tools/$1.version"
  if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then return 0; fi
  say "installing $crate $version into target/tools"
  cargo install "$crate" --version "$version" --locked --quiet --root "$root/target/tools"
  echo "$version" >"$stamp"
}

# tauri-driver, the WebDriver bridge the window tests use.
ensure_tauri_driver() { ensure_cargo_tool tauri-driver 2.1.0; }

# tauri-cli (`cargo tauri`), whose bundler makes the .deb and .rpm (scripts/package); the
# version .github/workflows/ci.yml installs.
ensure_tauri_cli() { ensure_cargo_tool tauri-cli 2.12.4 cargo-tauri; }

# cargo-fuzz, which builds and runs the libFuzzer targets in fuzz/.
ensure_cargo_fuzz() { ensure_cargo_tool cargo-fuzz 0.13.2; }

# Unsets every AWS_* and SSOBAR_* variable of this shell: the demo and the benchmarks run
# against a fake AWS and HOME of their own, which a person's AWS_PROFILE, AWS_CONFIG_FILE,
# endpoint override or ssobar setting must not reach.
clear_aws_and_ssobar_env() {
  local name
  for name in $(compgen -e); do
    case "$name" in AWS_* | SSOBAR_*) unset "$name" ;; esac
  done
}

# Sets home_env to the NAME=VALUE words that put HOME and every per-user XDG folder (config,
# cache, data, state, runtime) in "$1", as ssobar-app --demo does for itself; for `env` or
# `export`.
home_env_for() {
  home_env=(HOME="$1" XDG_CONFIG_HOME="$1/.config" XDG_CACHE_HOME="$1/.cache"
    XDG_DATA_HOME="$1/.local/share" XDG_STATE_HOME="$1/.local/state" XDG_RUNTIME_DIR="$1/.run")
}

# Starts "$1"/ssobar-fake-aws serving a demo HOME seeded in "$2", exports its endpoint
# variables into this shell and sets fake_pid. Fails, saying why, if it does not come up.
start_demo_fake() {
  local bin=$1 home=$2
  # Any further arguments go to the fake (--config FILE.json for another organisation).
  "$bin/ssobar-fake-aws" --demo-home "$home" "${@:3}" >"$home/fake.env" 2>"$home/fake.log" &
  fake_pid=$!
  for _ in $(seq 100); do grep -q SSOBAR_FAKE_AWS_URL "$home/fake.env" 2>/dev/null && break; sleep 0.05; done
  if ! grep -q SSOBAR_FAKE_AWS_URL "$home/fake.env" 2>/dev/null; then
    echo "ssobar-fake-aws did not start: $(cat "$home/fake.log")" >&2
    return 1
  fi
  # shellcheck disable=SC1091
  source "$home/fake.env"
}
