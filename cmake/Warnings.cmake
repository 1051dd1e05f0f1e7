# One warning level for the whole tree; warnings are errors only with RECRULES_WERROR=ON (CI).
function(recrules_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wnon-virtual-dtor
                         -Wno-unused-parameter)
  # clang (the sanitizer builds) has no -Wshadow=local; -Wshadow there would flag far more.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wshadow=local)
  endif()
  if(RECRULES_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
