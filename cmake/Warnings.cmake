# One warning level for the whole tree; warnings are errors only with RECRULES_WERROR=ON (CI).
function(recrules_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wnon-virtual-dtor
                         -Wno-unused-parameter)
  # clang (the sanitizer builds) has no -Wshadow=local; -Wshadow there would flag far more.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wshadow=local)
  endif()
  # GCC 12 at -O3 (Release) warns falsely of overlapping copies inside std::string's operator+
  # when inlined (GCC bug 105329, fixed in GCC 13): "..." + std::string(...) is everywhere.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
     AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE $<$<CONFIG:Release>:-Wno-restrict>)
  endif()
  if(RECRULES_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
