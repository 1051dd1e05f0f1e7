# How scripts/test.sh and scripts/fuzz.sh configure their builds (sourced, not run), so that the
# two agree and reuse one another's build folders.

# The normal build is a Release build (-O3), what packagers and most users build: warnings that
# only appear with optimisation (GCC 12's -Wrestrict at -O3) fail here first.
configure_normal() { # DIR
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRECRULES_WERROR=ON >/dev/null
}

# Sanitizer builds: clang (faster to build than gcc, and libFuzzer needs it), -O1 with line
# tables only (clang: -g1; stack traces keep file:line, full debug info costs build time), no
# benchmarks.
# Warnings are checked by the normal gcc build; clang does not know some of gcc's flags.
sanitizer_cmake_args=(
  -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1"
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1"
  -DRECRULES_WERROR=OFF -DRECRULES_BUILD_BENCH=OFF
)

# ASan + UBSan with libFuzzer's coverage instrumentation: the test suite and the fuzz targets.
configure_asan() { # DIR
  cmake -S . -B "$1" "${sanitizer_cmake_args[@]}" -DRECRULES_SANITIZE=address,undefined \
    -DRECRULES_FUZZ=ON >/dev/null
}

configure_tsan() { # DIR
  cmake -S . -B "$1" "${sanitizer_cmake_args[@]}" -DRECRULES_SANITIZE=thread >/dev/null
}

asan_env() {
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 "$@"
}
tsan_env() {
  TSAN_OPTIONS=halt_on_error=1 "$@"
}

# The build targets (files, relative to DIR) that the tests selected by the ctest arguments
# run: every word of their commands that names a file this build makes. Building those builds
# what they depend on too. (ctest --show-only gives the commands only once the files exist, so
# the commands are read from the CTestTestfile.cmake files CMake wrote.)
targets_of_tests() { # DIR CTEST_ARGS...
  local dir=$1
  shift
  ctest --test-dir "$dir" --show-only=json-v1 "$@" 2>/dev/null | python3 -c '
import json, os, re, sys
build = os.path.realpath(sys.argv[1])
outputs = set(sys.argv[2].split())
selected = {t["name"] for t in json.load(sys.stdin)["tests"]}
found = set()
for root, _, files in os.walk(build):
    if "CTestTestfile.cmake" not in files:
        continue
    for line in open(os.path.join(root, "CTestTestfile.cmake")):
        m = re.match(r"add_test\(\[=\[(.*?)\]=\] (.*)\)$", line.strip())
        if not m or m.group(1) not in selected:
            continue
        for word in re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(2)):
            path = os.path.relpath(os.path.realpath(word), build)
            if path in outputs:
                found.add(path)
print("\n".join(sorted(found)))
' "$dir" "$(ninja -C "$dir" -t targets all | sed -n 's/: .*//p' | tr '\n' ' ')"
}
