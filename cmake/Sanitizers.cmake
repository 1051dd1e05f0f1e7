# RECRULES_SANITIZE=address,undefined  or  RECRULES_SANITIZE=thread
if(RECRULES_SANITIZE)
  string(REPLACE ";" "," _san "${RECRULES_SANITIZE}")
  add_compile_options(-fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_san})
  # GCC 12 reports false "may be used uninitialized" inside libstdc++'s <regex> and
  # <functional> when sanitizers instrument them; the warning stays on in normal builds.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
  # clang links a C program (the C API test, examples/embed_c) with the C runtime of the
  # sanitizers only; the C++ library it calls needs the C++ part too (UBSan's vptr checks),
  # which needs libstdc++.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    add_link_options(-fsanitize-link-c++-runtime -lstdc++)
  endif()
  message(STATUS "recrules: sanitizers ${_san}")
endif()
