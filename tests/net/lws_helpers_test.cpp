// SPDX-License-Identifier: MIT
#include "net/lws_helpers.h"

#include <doctest/doctest.h>

using chatd::net::CookieValue;
using chatd::net::OriginAllowed;

TEST_CASE("lws helpers: one cookie out of a Cookie header") {
  CHECK(CookieValue("chatd_session=abc", "chatd_session") == "abc");
  CHECK(CookieValue("a=1; chatd_session=x.y; b=2", "chatd_session") == "x.y");
  CHECK(CookieValue("xchatd_session=no; chatd_session=yes", "chatd_session") == "yes");
  CHECK(CookieValue("chatd_sessionx=no", "chatd_session").empty());
  CHECK(CookieValue("", "chatd_session").empty());
  CHECK(CookieValue("chatd_session=", "chatd_session").empty());
}

TEST_CASE("lws helpers: the Origin rule of the upgrade and the API") {
  std::vector<std::string> allowed = {"https://site.example"};
  CHECK(OriginAllowed("", "chat.example:8080", allowed));  // not a browser
  CHECK(OriginAllowed("http://chat.example:8080", "chat.example:8080", allowed));
  CHECK(OriginAllowed("https://chat.example:8080", "chat.example:8080", allowed));
  CHECK(OriginAllowed("https://site.example", "chat.example:8080", allowed));
  CHECK_FALSE(OriginAllowed("http://evil.example", "chat.example:8080", allowed));
  CHECK_FALSE(OriginAllowed("http://chat.example:8080.evil", "chat.example:8080", allowed));
  CHECK_FALSE(OriginAllowed("http://", "", {}));
}
