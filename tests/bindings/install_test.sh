#!/usr/bin/env bash
# Installs the build into a scratch prefix, then builds the installed C++ and C examples out of
# tree against it, once with CMake (find_package(recrules)) and once with pkg-config, and runs
# them. Proves the installed package stands alone: no source or build tree on any path.
# Usage: install_test.sh BUILD_DIR [CMAKE_GENERATOR]
# Environment: CFLAGS / CXXFLAGS / LDFLAGS are passed to the consumers (sanitizer builds).
set -euo pipefail
build_dir=$1
generator=${2:-Ninja}
work=$(mktemp -d "${TMPDIR:-/tmp}/recrules_install_test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

step() { echo "--- $*"; }

step "install into a scratch prefix"
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name librecrules.so -print -quit)")
for f in "$prefix/bin/recrules" "$prefix/include/recrules.h" "$prefix/include/recrules/engine.h" \
         "$prefix/include/recrules/decision.h" "$prefix/include/recrules/task.h" \
         "$prefix/include/recrules/status.h" "$libdir/librecrules.so" \
         "$libdir/cmake/recrules/recrulesConfig.cmake" "$libdir/pkgconfig/recrules.pc" \
         "$prefix/share/doc/recrules/examples/embed_cpp/main.cc" \
         "$prefix/share/doc/recrules/examples/embed_c/main.c" \
         "$prefix/share/doc/recrules/examples/policy/policy.json"; do
  [[ -e $f ]] || { echo "missing after install: ${f#"$prefix"/}"; exit 1; }
done
# No public header may pull in an internal or a dependency's header.
if grep -h '#include' "$prefix"/include/recrules/*.h "$prefix/include/recrules.h" |
   grep -v -E '#include <(std[a-z]+\.h|[a-z_]+)>|#include "recrules/[a-z]+\.h"'; then
  echo "a public header includes something outside the standard library and recrules/"; exit 1
fi

step "each public header compiles on its own (C++17; the C header also as C99 and C++)"
for h in "$prefix"/include/recrules/*.h; do
  echo "#include <recrules/$(basename "$h")>" |
    g++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -x c++ -I"$prefix/include" -
done
echo '#include <recrules.h>' | gcc -std=c99 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c -I"$prefix/include" -
echo '#include <recrules.h>' | g++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -x c++ -I"$prefix/include" -

examples=$prefix/share/doc/recrules/examples
step "the installed recrules executable checks the installed example policy"
"$prefix/bin/recrules" check "$examples/policy" | head -2

step "CMake: find_package(recrules) from the installed examples"
for ex in embed_cpp embed_c; do
  cmake -S "$examples/$ex" -B "$work/cmake_$ex" -G "$generator" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$work/cmake_$ex" >/dev/null
  "$work/cmake_$ex/$ex" 10 | tail -1
done

step "pkg-config: recrules.pc"
export PKG_CONFIG_PATH=$libdir/pkgconfig
echo "pkg-config recrules: $(pkg-config --modversion recrules)"
read -r -a pc_flags <<<"$(pkg-config --cflags --libs recrules)"
# shellcheck disable=SC2086  # the flags are word lists on purpose
g++ -std=c++17 -Wall -Wextra -Werror ${CXXFLAGS:-} "$examples/embed_cpp/main.cc" "${pc_flags[@]}" \
  -pthread ${LDFLAGS:-} -o "$work/pc_embed_cpp"
# shellcheck disable=SC2086
gcc -std=c99 -Wall -Wextra -Werror ${CFLAGS:-} "$examples/embed_c/main.c" "${pc_flags[@]}" \
  -pthread ${LDFLAGS:-} -o "$work/pc_embed_c"
LD_LIBRARY_PATH=$libdir "$work/pc_embed_cpp" 10 | tail -1
LD_LIBRARY_PATH=$libdir "$work/pc_embed_c" 10 | tail -1
echo "install test: OK"
