#!/bin/sh
# deploy/kubernetes/Dockerfile without docker (no daemon here): its shape (a
# debian:12 build stage, a final stage that takes only the binary from it),
# its build stage's packages against tests/deps.sh, its make command run on
# the context that .dockerignore leaves (so the image needs no host build
# output and no .git), and the final stage's libraries against what that
# binary links. Needs no root and no network; touches only its temp dir.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
df=$root/deploy/kubernetes/Dockerfile
tmp=$(mktemp -d "${TMPDIR:-/tmp}/portgate-dockerfile.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

fail() {
	echo "test_dockerfile: FAIL: $*" >&2
	exit 1
}
ok() {
	echo "test_dockerfile: ok: $*"
}

# The Dockerfile's instructions, continuation lines joined, comments dropped.
sed -e '/^[[:space:]]*#/d' "$df" | sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' >"$tmp/lines"
# Stage N's instructions (1: the first FROM up to the next).
stage() { awk -v n="$1" '/^FROM /{s++} s==n' "$tmp/lines"; }

# --- shape ---------------------------------------------------------------------
[ "$(grep -c '^FROM ' "$tmp/lines")" -eq 2 ] || fail "want two stages (build, image)"
stage 1 | head -1 | grep -qx 'FROM debian:12 AS build' || fail "the first stage is not 'FROM debian:12 AS build'"
stage 2 | head -1 | grep -qx 'FROM debian:12-slim' || fail "the image is not 'FROM debian:12-slim'"
copies=$(stage 2 | grep '^COPY ' || true)
[ "$copies" = "COPY --from=build /src/build/portgate /usr/local/sbin/portgate" ] ||
	fail "the image must copy the binary only, from the build stage: $copies"
grep -q '/usr/local/sbin/portgate' "$root/deploy/kubernetes/daemonset.yaml" ||
	fail "daemonset.yaml does not run /usr/local/sbin/portgate"
ok "two stages: debian:12 builds, debian:12-slim gets /usr/local/sbin/portgate only (as daemonset.yaml runs it)"

# --- build stage packages, against tests/deps.sh -----------------------------
# apt-get install's package words of a stage.
apt_pkgs() { stage "$1" | grep -o 'apt-get install [^&]*' | tr ' ' '\n' | grep -v '^-' | grep -v '^apt-get$\|^install$\|^$' || true; }
build_pkgs=$(apt_pkgs 1)
[ -n "$build_pkgs" ] || fail "the build stage installs no packages"
for p in $build_pkgs; do
	case $p in libc6-dev) continue ;; esac # build-essential's, which deps.sh's gcc brings
	grep -qw -- "$p" "$root/tests/deps.sh" || fail "the build stage installs $p, which tests/deps.sh does not"
done
for p in make gcc clang llvm pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev; do
	echo "$build_pkgs" | grep -qx -- "$p" || fail "the build stage lacks $p, which make all needs"
done
ok "build stage installs: $(echo "$build_pkgs" | tr '\n' ' ')"

# --- the build stage's make, on the context .dockerignore leaves --------------
ctx=$tmp/src
mkdir "$ctx"
(cd "$root" && tar -c --exclude=./.git --exclude=./build --exclude='*.o' -f - .) | tar -x -C "$ctx"
grep -v '^#' "$root/.dockerignore" | while IFS= read -r p; do
	case $p in .git | build | '**/*.o') ;; *) fail ".dockerignore has $p, which this test does not apply" ;; esac
done
version=$(stage 1 | sed -n 's/^ARG PORTGATE_VERSION=//p')
[ -n "$version" ] || fail "the build stage has no ARG PORTGATE_VERSION=default"
make_cmd=$(stage 1 | sed -n 's/^RUN \(make .*\)/\1/p')
[ -n "$make_cmd" ] || fail "the build stage runs no make"
(cd "$ctx" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PORTGATE_VERSION="$version" sh -c "$make_cmd") \
	>"$tmp/make.log" 2>&1 || {
	tail -30 "$tmp/make.log" >&2
	fail "the build stage's '$make_cmd' failed on the .dockerignore'd context"
}
bin=$ctx/build/portgate
v=$("$bin" --version)
[ "$v" = "portgate $version $(echo "$v" | cut -d' ' -f3-)" ] || fail "the image's portgate --version says '$v', want version $version"
ok "'$make_cmd' builds from the context alone: $v"

# --- the image's libraries, against what the binary links --------------------
run_pkgs=$(apt_pkgs 2)
for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
	pkg=$(dpkg -S "*/$lib" 2>/dev/null | head -1 | cut -d: -f1)
	[ -n "$pkg" ] || fail "no package holds $lib"
	case $pkg in libc6) continue ;; esac # in every Debian image
	echo "$run_pkgs" | grep -qx "$pkg" || fail "the binary needs $lib ($pkg), which the image does not install"
done
ok "the image installs every library the binary links: $(echo "$run_pkgs" | tr '\n' ' ')"

if command -v hadolint >/dev/null 2>&1; then
	hadolint "$df" || fail "hadolint"
	ok "hadolint"
else
	echo "test_dockerfile: skip: no hadolint (not packaged in Debian 12)"
fi
echo "test_dockerfile: PASS"
