# One warning level for the whole tree; warnings are errors unless RECRULES_WERROR is OFF.
function(recrules_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
                         -Wnon-virtual-dtor -Wno-unused-parameter)
  if(RECRULES_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
