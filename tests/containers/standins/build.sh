#!/usr/bin/env bash
# Builds a local stand-in for an official base image that cannot be pulled (no registry reachable)
# and tags it with the official name, so the project's Dockerfiles build unmodified.
# Test tooling only: nothing the project ships refers to these images.
#
#   build.sh IMAGE    IMAGE is rust:*, nginx:* or postgres:* (the official name to stand in for)
#
# Recipe: a Debian minbase rootfs made by debootstrap from the mirror apt is configured with,
# loaded with `docker import`, finished by standins/<kind>/Dockerfile. Every stand-in carries the
# label org.racontemoi.standin=<kind>, which is how the build report tells it from the official one,
# and org.racontemoi.standin-recipe, the fingerprint of its recipe (the packages and the files of
# standins/<kind>/): `build.sh IMAGE --recipe` prints it, and build_images.sh rebuilds a stand-in
# whose recipe changed since it was built.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=tests/containers/engine.sh
. "$here/../engine.sh"

image=${1:?usage: build.sh IMAGE}
suite=bookworm
case "$image" in
    rust:*)  kind=rust;  packages=ca-certificates,gcc,libc6-dev ;;
    nginx:*) kind=nginx; packages=nginx,gettext-base,busybox-static ;;
    postgres:*) kind=postgres; packages=postgresql ;;
    *) echo "standin: no stand-in recipe for $image" >&2; exit 2 ;;
esac
recipe=$({ echo "$packages"; cat "$here/$kind"/*; } | sha256sum | cut -c1-16)
if [ "${2:-}" = --recipe ]; then echo "$recipe"; exit 0; fi

# The Debian mirror apt already uses (the only Debian source this machine may reach).
debian_mirror() {
    # shellcheck disable=SC2016  # $(...) are apt's format fields
    apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 'Identifier: Packages' \
        | awk -v suite="$suite" '$1 == suite { print $2; exit }'
}

# The official rust image keeps rustup in CARGO_HOME and toolchains in RUSTUP_HOME; copy this
# machine's default toolchain (without its docs) and rustup's proxies into the same places.
add_rust_toolchain() {
    local rootfs=$1 sysroot name proxy
    sysroot=$(rustc --print sysroot)
    name=$(basename "$sysroot")
    mkdir -p "$rootfs/usr/local/rustup/toolchains/$name" "$rootfs/usr/local/cargo/bin"
    cp -a "$sysroot/bin" "$sysroot/lib" "$sysroot/libexec" "$rootfs/usr/local/rustup/toolchains/$name/"
    printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n' "$name" \
        >"$rootfs/usr/local/rustup/settings.toml"
    install -m 0755 "$(command -v rustup)" "$rootfs/usr/local/cargo/bin/rustup"
    for proxy in cargo rustc rustdoc cargo-clippy clippy-driver cargo-fmt rustfmt; do
        ln -sf rustup "$rootfs/usr/local/cargo/bin/$proxy"
    done
    # TLS from inside containers only verifies with this machine's CA bundle.
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
}

mirror=$(debian_mirror)
[ -n "$mirror" ] || { echo "standin: no $suite mirror in the apt configuration" >&2; exit 1; }
rootfs="$repo/.cache/containers/rootfs-$kind"
rootfs_image="racontemoi-standin/$kind-rootfs:$suite"
rm -rf "$rootfs"
mkdir -p "$(dirname "$rootfs")"
trap 'rm -rf "$rootfs"' EXIT

echo "standin: $image <- debootstrap $suite ($packages) from $mirror"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 30 "$rootfs.log" >&2; exit 1; }
if [ "$kind" = rust ]; then add_rust_toolchain "$rootfs"; fi
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

tar --numeric-owner -C "$rootfs" -c . | "$DOCKER" import - "$rootfs_image" >/dev/null
"$DOCKER" build --quiet --build-arg ROOTFS="$rootfs_image" \
    --label org.racontemoi.standin="$kind" --label org.racontemoi.standin-recipe="$recipe" \
    --tag "$image" "$here/$kind" >/dev/null
"$DOCKER" rmi "$rootfs_image" >/dev/null
size=$("$DOCKER" image inspect -f '{{.Size}}' "$image")
echo "standin: built $image in ${SECONDS}s ($((size / 1048576)) MiB)"
