# cmake --install: the shared library, the public headers (C++ and C), the recrules executable,
# the rule library, docs, examples and the systemd unit, in the GNUInstallDirs places; a CMake
# package (find_package(recrules) -> recrules::recrules) and a pkg-config file (recrules.pc).
# Both are relocatable: they find the prefix from their own location.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(RECRULES_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/recrules)

install(TARGETS recrules_shared EXPORT recrules_targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS recrules RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/engine/include/recrules
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_SOURCE_DIR}/bindings/c/recrules.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT recrules_targets NAMESPACE recrules:: FILE recrulesTargets.cmake
  DESTINATION ${RECRULES_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/recrulesConfig.cmake.in
  ${PROJECT_BINARY_DIR}/recrulesConfig.cmake INSTALL_DESTINATION ${RECRULES_CMAKE_DIR})
# 0.x: minor versions may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/recrulesConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/recrulesConfig.cmake
  ${PROJECT_BINARY_DIR}/recrulesConfigVersion.cmake DESTINATION ${RECRULES_CMAKE_DIR})

file(RELATIVE_PATH RECRULES_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" RECRULES_PC_TO_PREFIX "${RECRULES_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/recrules.pc.in ${PROJECT_BINARY_DIR}/recrules.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/recrules.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Data: the rule library admins copy from, the docs, and the examples (which build on their own
# against the installed package).
if(EXISTS ${PROJECT_SOURCE_DIR}/rules)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/rules/ DESTINATION ${CMAKE_INSTALL_DATADIR}/recrules/rules)
endif()
if(EXISTS ${PROJECT_SOURCE_DIR}/docs)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()
# A symlink under examples/ (such as a policy's rules/ pointing at the rule library) is installed
# as a copy of what it points to, so that the installed examples stand alone.
set(_example_link_excludes "")
file(GLOB_RECURSE _example_entries LIST_DIRECTORIES true ${PROJECT_SOURCE_DIR}/examples/*)
foreach(_entry IN LISTS _example_entries)
  if(IS_SYMLINK ${_entry})
    file(REAL_PATH ${_entry} _target)
    file(RELATIVE_PATH _rel ${PROJECT_SOURCE_DIR}/examples ${_entry})
    if(IS_DIRECTORY ${_target})
      install(DIRECTORY ${_target}/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/${_rel})
    else()
      get_filename_component(_rel_dir ${_rel} DIRECTORY)
      get_filename_component(_name ${_rel} NAME)
      install(FILES ${_target} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/${_rel_dir}
        RENAME ${_name})
    endif()
    list(APPEND _example_link_excludes REGEX "/examples/${_rel}$" EXCLUDE)
  endif()
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
  PATTERN "CMakeLists.txt" EXCLUDE ${_example_link_excludes})
install(FILES ${PROJECT_SOURCE_DIR}/examples/embed_cpp/CMakeLists.txt
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/embed_cpp)
install(FILES ${PROJECT_SOURCE_DIR}/examples/embed_c/CMakeLists.txt
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/embed_c)

# The service: the unit names the installed executable.
if(EXISTS ${PROJECT_SOURCE_DIR}/packaging/systemd/recrules.service)
  file(READ ${PROJECT_SOURCE_DIR}/packaging/systemd/recrules.service _unit)
  string(REPLACE "/usr/bin/recrules" "${CMAKE_INSTALL_FULL_BINDIR}/recrules" _unit "${_unit}")
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/packaging/recrules.service CONTENT "${_unit}")
  install(FILES ${PROJECT_BINARY_DIR}/packaging/recrules.service
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/systemd/system)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/recrules.env.example
    DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
endif()
