# RECRULES_SANITIZE=address,undefined  or  RECRULES_SANITIZE=thread
if(RECRULES_SANITIZE)
  string(REPLACE ";" "," _san "${RECRULES_SANITIZE}")
  add_compile_options(-fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_san})
  message(STATUS "recrules: sanitizers ${_san}")
endif()
