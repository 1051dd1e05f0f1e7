// application/x-www-form-urlencoded bodies and URL query strings.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recrules/status.h"

namespace recrules::server {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// Decodes "a=1&b=x%20y+z". '+' is a space; a '%' not followed by two hex digits is an error
// naming its byte offset: "bad form encoding: invalid percent-escape at byte 7".
Result<FormFields> ParseForm(std::string_view text);

// The first value of `name`, or nullptr.
const std::string* FindField(const FormFields& fields, std::string_view name);

}  // namespace recrules::server
