// Parses redis://[user:password@]host:port/db, the one form redis.url takes.
// The user and the password are percent-decoded (a password holding '@',
// ':' or '/' is written %40, %3A, %2F). Pure function; errors name the part
// that is wrong and never repeat the password (the URL in them is
// redact_url()'s).
#pragma once

#include <string>

#include "core/status.h"

namespace streamrec {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;      // empty: no ACL user (AUTH password only)
  std::string password;  // empty: no AUTH
  int db = 0;
};

Result<RedisEndpoint> parse_redis_url(const std::string& url);

}  // namespace streamrec
