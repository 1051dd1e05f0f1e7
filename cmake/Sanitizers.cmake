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
  message(STATUS "recrules: sanitizers ${_san}")
endif()
