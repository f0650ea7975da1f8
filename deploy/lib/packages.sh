# Sourced by deploy/cluster.sh, tests/run.sh and tests/bench/compare.sh:
# install_packages PKG... installs, through apt-get, the Debian packages that are missing.
# nodejs and npm are asked for only when there is no node at all (it may come from elsewhere).
# Not Debian: nothing is installed, and the caller's own checks say what is missing.

install_packages() {
  command -v dpkg-query >/dev/null || return 0
  local missing=() keep=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if command -v node >/dev/null && command -v npm >/dev/null; then
    for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || keep+=("$p"); done
    missing=("${keep[@]}")
  fi
  ((${#missing[@]})) || return 0
  if [[ $(id -u) -ne 0 ]]; then
    printf 'need root to install: %s\n' "${missing[*]}" >&2
    return 1
  fi
  printf 'installing: %s\n' "${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The packages a build needs, and those the cluster runs with.
build_packages=(build-essential cmake pkg-config nodejs npm libuv1-dev libwebsockets-dev
  libwebsockets-evlib-uv libjansson-dev libmsgpack-dev libhiredis-dev libmicrohttpd-dev
  libjwt-dev libcurl4-openssl-dev libcrypt-dev)
run_packages=(redis-server nginx curl)
