# Turns a text file into a C++ header holding it as a std::string_view, so
# the binary serves the dashboard with no file beside it. Run at build time:
#   cmake -DINPUT=page.html -DOUTPUT=page.h -DNAME=kPage -P embed_text.cmake
# The header is rewritten only when its content changes.
file(READ "${INPUT}" content)
set(delimiter "streamrec_embed")
string(FIND "${content}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} holds \")${delimiter}\"\", which would end the raw string literal")
endif()
get_filename_component(source_name "${INPUT}" NAME)
set(header "// Generated at build time from ${source_name} by embed_text.cmake: edit the source, not this.
#pragma once

#include <string_view>

namespace streamrec::serving {

inline constexpr std::string_view ${NAME} = R\"${delimiter}(${content})${delimiter}\";

}  // namespace streamrec::serving
")
file(WRITE "${OUTPUT}.tmp" "${header}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
