// SPDX-License-Identifier: MIT
#include "net/static_site.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>

#include "test_util.h"

using chatd::net::StaticSite;

TEST_CASE("static site: the embedded page, content types, stable ETags") {
  StaticSite site("");
  StaticSite::File index, again, js;
  REQUIRE(site.Find("/", &index));
  CHECK(index.content_type == "text/html; charset=utf-8");
  CHECK(index.body.find("<html") != std::string::npos);
  REQUIRE(site.Find("/index.html", &again));
  CHECK(again.etag == index.etag);
  CHECK(index.etag.front() == '"');
  REQUIRE(site.Find("/app.js", &js));
  CHECK(js.content_type == "text/javascript; charset=utf-8");
  CHECK(js.etag != index.etag);
  StaticSite::File none;
  CHECK_FALSE(site.Find("/no-such-file.js", &none));
  CHECK_FALSE(site.Find("/../CMakeLists.txt", &none));
  CHECK(StaticSite::ContentType("x.css") == "text/css; charset=utf-8");
  CHECK(StaticSite::ContentType("x.bin") == "application/octet-stream");
}

TEST_CASE("static site: a development folder, confined to itself") {
  chatd::testing::TempDir dir;
  std::string www = dir / "www";
  REQUIRE(mkdir(www.c_str(), 0755) == 0);
  std::ofstream(www + "/index.html") << "<html>dev</html>";
  std::ofstream(dir / "secret.txt") << "not for the web";
  REQUIRE(symlink((dir / "secret.txt").c_str(), (www + "/leak.txt").c_str()) == 0);
  StaticSite site(www);
  StaticSite::File f;
  REQUIRE(site.Find("/", &f));
  CHECK(f.body == "<html>dev</html>");
  CHECK_FALSE(site.Find("/leak.txt", &f));      // a symlink out of the folder
  CHECK_FALSE(site.Find("/../secret.txt", &f));  // ".."
  CHECK_FALSE(site.Find("/missing.html", &f));
}
