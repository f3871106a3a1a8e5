#include "feature_store/redis_url.h"

#include <charconv>

#include "core/config.h"  // redact_url

namespace streamrec {
namespace {
bool parse_int(std::string_view s, int& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

// RFC 3986 percent-decoding; false on a '%' not followed by two hex digits.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    unsigned byte = 0;
    if (i + 2 >= in.size()) return false;
    auto [end, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, byte, 16);
    if (ec != std::errc() || end != in.data() + i + 3) return false;
    out.push_back(static_cast<char>(byte));
    i += 2;
  }
  return true;
}
}  // namespace

Result<RedisEndpoint> parse_redis_url(const std::string& url) {
  const std::string scheme = "redis://";
  auto fail = [&](const std::string& why) {
    return Error{"redis.url: " + why + " in \"" + redact_url(url) + "\" (expected redis://[user:password@]host:port/db)"};
  };
  if (url.rfind(scheme, 0) != 0) return fail("missing redis:// scheme");
  std::string_view rest(url);
  rest.remove_prefix(scheme.size());

  RedisEndpoint ep;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    size_t colon = cred.find(':');
    std::string_view user, password = cred;  // redis://password@host, as redis-cli accepts
    if (colon != std::string_view::npos) {
      user = cred.substr(0, colon);
      password = cred.substr(colon + 1);
    }
    if (!percent_decode(user, ep.user)) return fail("bad percent-encoding in the user");
    if (!percent_decode(password, ep.password)) return fail("bad percent-encoding in the password");
  }
  std::string_view hostport = rest;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!parse_int(db, ep.db) || ep.db < 0)) return fail("bad database number");
  }
  if (size_t colon = hostport.rfind(':'); colon != std::string_view::npos) {
    if (!parse_int(hostport.substr(colon + 1), ep.port) || ep.port <= 0 || ep.port > 65535)
      return fail("bad port");
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty()) return fail("missing host");
  ep.host = hostport;
  return ep;
}

}  // namespace streamrec
