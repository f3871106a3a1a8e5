// redis.url comes from a file, the environment or --set. Any string either
// parses or is an error, and redact_url() never shows the password it holds.
// Errors quote the URL only through redact_url() (redis_url.h); that they
// add no copy of their own is RedisUrl.ErrorsNeverRepeatThePassword's job:
// checked here, a fuzzer soon builds passwords out of the errors' own words.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/config.h"
#include "feature_store/redis_url.h"

namespace {

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// The login is what lies between "://" (or the start) and the last '@'; the
// password is what follows its first ':' ("" when there is none).
std::string password_of(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t at = url.rfind('@');
  if (at == std::string::npos || at <= start) return "";
  size_t colon = url.substr(start, at - start).find(':');
  if (colon == std::string::npos) return "";
  return url.substr(start + colon + 1, at - (start + colon + 1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string url(reinterpret_cast<const char*>(data), size);
  std::string password = password_of(url);
  std::string redacted = streamrec::redact_url(url);
  auto parsed = streamrec::parse_redis_url(url);
  // Passwords shorter than 4 bytes match the rest of a URL by chance, and
  // one holding '*' can be spelt by the redaction ("alice:***") itself.
  if (password.size() >= 4 && password.find('*') == std::string::npos) {
    // redact_url() shows the password's text no more often than the URL
    // shows it elsewhere (in a host or a user name that happens to hold it).
    std::string rest = url;
    rest.erase(url.rfind('@') - password.size(), password.size());
    if (count(redacted, password) > count(rest, password)) std::abort();
  }
  if (parsed.ok() && (parsed->port < 1 || parsed->port > 65535 || parsed->db < 0)) std::abort();
  return 0;
}
