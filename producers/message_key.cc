#include "producers/message_key.h"

#include <simdjson.h>

namespace streamrec {

struct KeyReader::Parser {
  simdjson::dom::parser dom;
};

KeyReader::KeyReader(std::string field) : field_(std::move(field)), parser_(std::make_unique<Parser>()) {}
KeyReader::~KeyReader() = default;
KeyReader::KeyReader(KeyReader&&) noexcept = default;
KeyReader& KeyReader::operator=(KeyReader&&) noexcept = default;

std::string KeyReader::read(std::string_view message) {
  simdjson::dom::element root;
  if (parser_->dom.parse(message.data(), message.size(), /*realloc_if_needed=*/true).get(root) != simdjson::SUCCESS)
    return "";
  simdjson::dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS) return "";
  std::string_view value;
  if (obj[field_].get(value) != simdjson::SUCCESS) return "";
  return std::string(value);
}

}  // namespace streamrec
