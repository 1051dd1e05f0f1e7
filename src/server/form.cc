#include "server/form.h"

namespace recrules::server {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes text[begin, end) into out; on a bad escape returns its offset in text.
size_t Decode(std::string_view text, size_t begin, size_t end, std::string* out) {
  out->clear();
  out->reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    char c = text[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      int hi = i + 2 < end ? HexValue(text[i + 1]) : -1;
      int lo = hi >= 0 ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) return i;
      out->push_back(char(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return std::string_view::npos;
}

}  // namespace

Result<FormFields> ParseForm(std::string_view text) {
  FormFields fields;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t amp = text.find('&', pos);
    if (amp == std::string_view::npos) amp = text.size();
    if (amp > pos) {
      size_t eq = text.find('=', pos);
      if (eq == std::string_view::npos || eq > amp) eq = amp;
      std::string key, value;
      size_t bad = Decode(text, pos, eq, &key);
      if (bad == std::string_view::npos && eq < amp) bad = Decode(text, eq + 1, amp, &value);
      if (bad != std::string_view::npos) {
        return Status::InvalidInput("bad form encoding: invalid percent-escape at byte " +
                                    std::to_string(bad));
      }
      fields.emplace_back(std::move(key), std::move(value));
    }
    pos = amp + 1;
  }
  return fields;
}

const std::string* FindField(const FormFields& fields, std::string_view name) {
  for (const auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace recrules::server
