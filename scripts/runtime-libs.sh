#!/usr/bin/env bash
# Copies a binary and the shared libraries it loads into DIR, keeping their
# paths (DIR/usr/local/bin/streamrec, DIR/usr/lib/x86_64-linux-gnu/...), so a
# runtime image can be just `COPY --from=build DIR /` onto a slim base.
# The C runtime (libc, libm, the loader, ...) is left out: the base image has
# it, and copying it over the base's own would mix two versions.
#   scripts/runtime-libs.sh BINARY INSTALL_PATH DIR
set -euo pipefail
if [[ $# -ne 3 ]]; then
  echo "usage: scripts/runtime-libs.sh BINARY INSTALL_PATH DIR" >&2
  exit 2
fi
binary=$1 install_path=$2 dir=$3
[[ -x "$binary" ]] || { echo "runtime-libs: $binary: not an executable" >&2; exit 2; }

mkdir -p "$dir$(dirname "$install_path")"
install -m 0755 "$binary" "$dir$install_path"
# `ldd` lines look like "librdkafka.so.1 => /lib/x86_64-linux-gnu/librdkafka.so.1 (0x...)".
missing=$(ldd "$binary" | awk '/not found/ {print $1}')
if [[ -n "$missing" ]]; then
  echo "runtime-libs: $binary needs libraries this machine lacks: $missing" >&2
  exit 1
fi
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*) continue ;;
  esac
  # Resolve the symlink so the file itself is copied, under the name the loader asks for.
  mkdir -p "$dir$(dirname "$lib")"
  cp -L "$lib" "$dir$lib"
done
