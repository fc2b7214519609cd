// SPDX-License-Identifier: MIT
#include "proto/codec.h"

#include <doctest/doctest.h>

#include "proto/json_writer.h"

using chatd::proto::Decode;
using chatd::proto::Request;
using chatd::proto::RequestType;

TEST_CASE("codec: valid requests decode with their fields") {
  Request r;
  REQUIRE(Decode(R"({"type":"hello","id":1,"token":"abc","device":"laptop","cursor":1234})", &r).ok());
  CHECK(r.type == RequestType::kHello);
  CHECK(r.id == "1");
  CHECK(r.token == "abc");
  CHECK(r.device == "laptop");
  CHECK(r.has_cursor);
  CHECK(r.cursor == 1234);

  REQUIRE(Decode(R"({"type":"send","id":"x7","cid":"c-81f2","to":"bob","text":"hi"})", &r).ok());
  CHECK(r.type == RequestType::kSend);
  CHECK(r.id == "\"x7\"");
  CHECK(r.cid == "c-81f2");
  CHECK(r.to == "bob");
  CHECK(r.text == "hi");

  REQUIRE(Decode(R"({"type":"send","cid":"1","room":"general","text":"a\nb\u00e9"})", &r).ok());
  CHECK(r.room == "general");
  CHECK(r.text == "a\nb\xc3\xa9");

  REQUIRE(Decode(R"({"type":"history","id":9,"with":"bob","before":1302})", &r).ok());
  CHECK(r.limit == 50);
  CHECK(r.has_before);
  REQUIRE(Decode(R"({"type":"ack","upto":0})", &r).ok());
  CHECK(r.has_upto);
  REQUIRE(Decode(R"({"type":"read","room":"!notifications","upto":5})", &r).ok());
  REQUIRE(Decode(R"({"type":"join","room":"general","private":true})", &r).ok());
  CHECK(r.is_private);
  REQUIRE(Decode(R"({"type":"who"})", &r).ok());
  CHECK(r.id.empty());
  REQUIRE(Decode(R"({"type":"users","id":3,"q":"Bo"})", &r).ok());
  CHECK(r.type == RequestType::kUsers);
  CHECK(r.query == "Bo");
  CHECK(r.limit == 20);
  REQUIRE(Decode(R"({"type":"members","room":"general"})", &r).ok());
  CHECK(r.type == RequestType::kMembers);
  CHECK(r.room == "general");
  REQUIRE(Decode(R"({"type":"conversations","id":4})", &r).ok());
  CHECK(r.type == RequestType::kConversations);
  CHECK(r.limit == 50);
  REQUIRE(Decode(R"({"type":"users","limit":50})", &r).ok());
  CHECK(r.query.empty());
  CHECK(r.limit == 50);
}

TEST_CASE("codec: malformed requests are bad_request with a reason") {
  struct Case {
    const char* json;
    const char* why;
  } cases[] = {
      {"", "malformed"},
      {"{", "malformed"},
      {"[1,2]", "object"},
      {"\"hello\"", "object"},
      {"{}", "type"},
      {R"({"type":"who"} x)", "malformed"},
      {R"({"type":"who"}})", "malformed"},
      {R"({"type":"who"}{"type":"who"})", "malformed"},
      {R"({"type":5})", "type"},
      {R"({"type":"fly"})", "unknown type"},
      {R"({"type":"send","to":"bob","text":"x"})", "cid"},
      {R"({"type":"send","cid":"1","text":"x"})", "exactly one"},
      {R"({"type":"send","cid":"1","to":"bob","room":"r","text":"x"})", "exactly one"},
      {R"({"type":"send","cid":"1","to":"bob"})", "text"},
      {R"({"type":"send","cid":"1","to":"bob","text":""})", "text"},
      {R"({"type":"send","cid":"1","to":"b o b","text":"x"})", "user name"},
      {R"({"type":"send","cid":1,"to":"bob","text":"x"})", "cid"},
      {R"({"type":"ack"})", "upto"},
      {R"({"type":"ack","upto":-1})", "upto"},
      {R"({"type":"ack","upto":1.5})", "upto"},
      {R"({"type":"ack","upto":9007199254740992})", "upto"},
      {R"({"type":"ack","upto":"5"})", "upto"},
      {R"({"type":"hello","cursor":"x"})", "cursor"},
      {R"({"type":"hello","user":"bob"})", "password"},
      {R"({"type":"history","with":"bob","limit":0})", "limit"},
      {R"({"type":"history","with":"bob","limit":1000})", "limit"},
      {R"({"type":"join","room":"#general"})", "room"},
      {R"({"type":"join","room":"general","private":"yes"})", "private"},
      {R"({"type":"typing","to":"*"})", "broadcast"},
      {R"({"type":"users","limit":51})", "limit"},
      {R"({"type":"users","limit":0})", "limit"},
      {R"({"type":"conversations","limit":101})", "limit"},
      {R"({"type":"members"})", "room"},
      {R"({"type":"users","q":5})", "q"},
      {R"({"type":"who","id":{"a":1}})", "id"},
      {R"({"type":"who","id":[1]})", "id"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.json);
    Request r;
    auto s = Decode(c.json, &r);
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == chatd::util::Code::kBadRequest);
    CHECK(s.message().find(c.why) != std::string::npos);
  }
}

TEST_CASE("codec: the id survives a failed decode so the error can carry re") {
  Request r;
  REQUIRE_FALSE(Decode(R"({"type":"fly","id":42})", &r).ok());
  CHECK(r.id == "42");
  REQUIRE_FALSE(Decode(R"({"type":"send","id":"q\"1"})", &r).ok());
  CHECK(r.id == R"("q\"1")");
}

TEST_CASE("codec: deep nesting and huge numbers do not crash") {
  std::string deep(5000, '[');
  Request r;
  CHECK_FALSE(Decode(deep, &r).ok());
  std::string nested = R"({"type":"who","x":)" + std::string(2000, '[') + std::string(2000, ']') + "}";
  CHECK_FALSE(Decode(nested, &r).ok());
  CHECK(Decode(R"({"type":"who","id":1e308})", &r).ok());
}

TEST_CASE("codec: frames split on newlines, blank lines dropped") {
  auto lines = chatd::proto::SplitFrame("{\"a\":1}\n\n{\"b\":2}\r\n  \n");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "{\"a\":1}");
  CHECK(lines[1] == "{\"b\":2}");
  CHECK(chatd::proto::SplitFrame("").empty());
}

TEST_CASE("codec: names") {
  CHECK(chatd::proto::ValidUserName("alice"));
  CHECK(chatd::proto::ValidUserName("A.b_c-9"));
  CHECK(chatd::proto::ValidUserName(std::string(32, 'x')));
  CHECK_FALSE(chatd::proto::ValidUserName(std::string(33, 'x')));
  CHECK_FALSE(chatd::proto::ValidUserName(""));
  CHECK_FALSE(chatd::proto::ValidUserName("al ice"));
  CHECK_FALSE(chatd::proto::ValidUserName("*"));
  CHECK_FALSE(chatd::proto::ValidUserName("\xc3\xa9"));
  CHECK(chatd::proto::ValidRoomName(std::string(64, 'r')));
  CHECK_FALSE(chatd::proto::ValidRoomName(std::string(65, 'r')));
  CHECK_FALSE(chatd::proto::ValidRoomName("#general"));
}

TEST_CASE("json writer: escapes so no raw newline or control character reaches the wire") {
  std::string out;
  chatd::proto::JsonWriter w(&out);
  w.Begin().Str("type", "message").Str("text", "a\"b\\c\nd\te\x01\x1f\xc3\xa9").Int("mid", 9007199254740991LL).Bool("dup", true);
  w.BeginArray("xs").Int(1).Str("two").Begin().End().EndArray().Raw("re", "\"r\"").End();
  CHECK(out ==
        R"({"type":"message","text":"a\"b\\c\nd\te\u0001\u001f)"
        "\xc3\xa9"
        R"(","mid":9007199254740991,"dup":true,"xs":[1,"two",{}],"re":"r"})");
  CHECK(out.find('\n') == std::string::npos);
  // What the writer produces, the decoder reads back.
  std::string msg;
  chatd::proto::JsonWriter(&msg).Begin().Str("type", "send").Str("cid", "c").Str("to", "bob").Str("text", "x\ny\"z").End();
  Request r;
  REQUIRE(Decode(msg, &r).ok());
  CHECK(r.text == "x\ny\"z");
}

TEST_CASE("codec: a NUL (\\u0000) is kept in text and passwords and refused in names, cids, ids, tokens") {
  using namespace std::string_literals;
  Request r;
  REQUIRE(Decode(R"({"type":"send","cid":"c1","to":"bob","text":"visible\u0000hidden"})", &r).ok());
  CHECK(r.text == "visible\0hidden"s);
  REQUIRE(Decode(R"({"type":"send","cid":"c1","to":"bob","text":"\u0000a\u0000\u0000"})", &r).ok());
  CHECK(r.text == "\0a\0\0"s);
  // An escaped backslash before "u0000" is text, not a NUL.
  REQUIRE(Decode(R"({"type":"send","cid":"c1","to":"bob","text":"\\u0000"})", &r).ok());
  CHECK(r.text == "\\u0000");
  REQUIRE(Decode(R"({"type":"hello","user":"alice","password":"pass\u0000word"})", &r).ok());
  CHECK(r.password == "pass\0word"s);
  for (const char* bad : {R"({"type":"send","cid":"a\u0000b","to":"bob","text":"x"})",
                          R"({"type":"send","cid":"c","to":"bob\u0000x","text":"x"})",
                          R"({"type":"join","room":"r\u0000x"})",
                          R"({"type":"hello","token":"t\u0000x"})",
                          R"({"type":"hello","user":"nul\u0000tail","password":"p"})",
                          R"({"type":"hello","token":"t","device":"d\u0000"})",
                          R"({"type":"ping","id":"a\u0000b"})"}) {
    CAPTURE(bad);
    CHECK(Decode(bad, &r).code() == chatd::util::Code::kBadRequest);
  }
  // Raw NUL bytes are not JSON at all.
  CHECK(Decode("{\"type\":\"send\",\"cid\":\"c\",\"to\":\"bob\",\"text\":\"a\0b\"}"s, &r).code() ==
        chatd::util::Code::kBadRequest);
  std::string user, password;
  CHECK(chatd::proto::DecodeCredentials(R"({"user":"nul\u0000tail","password":"12345678"})", &user, &password).code() ==
        chatd::util::Code::kBadRequest);
  REQUIRE(chatd::proto::DecodeCredentials(R"({"user":"nul","password":"1234\u00005678"})", &user, &password).ok());
  CHECK(password == "1234\0005678"s);
  // A site token's subject with a NUL is not a prefix of itself.
  chatd::proto::SiteTokenClaims claims;
  REQUIRE(chatd::proto::DecodeSiteTokenClaims(R"({"alg":"HS256"})", R"({"sub":"admin\u0000x","exp":1})", &claims));
  CHECK(claims.sub != "admin");
  // Two cids that differ after a NUL are not the same cid (both refused).
  CHECK_FALSE(Decode(R"({"type":"send","cid":"x\u0000a","to":"bob","text":"1"})", &r).ok());
}

TEST_CASE("codec: U+10FFFF is still text when no NUL is escaped, and never confused with one") {
  using namespace std::string_literals;
  Request r;
  REQUIRE(Decode("{\"type\":\"send\",\"cid\":\"c\",\"to\":\"bob\",\"text\":\"\xf4\x8f\xbf\xbf\"}", &r).ok());
  CHECK(r.text == "\xf4\x8f\xbf\xbf");
  REQUIRE(Decode(R"({"type":"send","cid":"c","to":"bob","text":"\udbff\udfff"})", &r).ok());
  CHECK(r.text == "\xf4\x8f\xbf\xbf");
  CHECK(Decode("{\"type\":\"send\",\"cid\":\"c\",\"to\":\"bob\",\"text\":\"\xf4\x8f\xbf\xbf\\u0000\"}", &r).code() ==
        chatd::util::Code::kBadRequest);
  CHECK(Decode(R"({"type":"send","cid":"c","to":"bob","text":"\uDBFF\uDFFF\u0000"})", &r).code() ==
        chatd::util::Code::kBadRequest);
}

TEST_CASE("names: site users as the site has them, local accounts stay strict") {
  using chatd::proto::ValidSiteUserName;
  for (const char* ok : {"1763800000123", "bob@example.com", "first.last+tag@example.org", "\xc3\xa9lodie", "u-1",
                         "\xe4\xb8\xad\xe6\x96\x87", "a#b", "a!b"}) {
    CAPTURE(ok);
    CHECK(ValidSiteUserName(ok));
  }
  for (const char* bad : {"", "*", "#general", "!notifications", "a b", "tab\tname", "nbsp\xc2\xa0x", "bell\x07",
                          "\xc3", "\xed\xa0\x80", "\xc0\xaf", "ideographic\xe3\x80\x80space", "zw\xe2\x80\x8bsp"}) {
    CAPTURE(bad);
    CHECK_FALSE(ValidSiteUserName(bad));
  }
  CHECK(ValidSiteUserName(std::string(64, 'x')));
  CHECK_FALSE(ValidSiteUserName(std::string(65, 'x')));
  CHECK_FALSE(chatd::proto::ValidUserName("bob@example.com"));  // registration keeps its rule
  // Site users can be messaged and invited by name.
  Request r;
  CHECK(Decode(R"({"type":"send","cid":"c","to":"bob@example.com","text":"hi"})", &r).ok());
  CHECK(Decode(R"({"type":"invite","room":"general","user":"1763800000123"})", &r).ok());
  CHECK_FALSE(Decode(R"({"type":"send","cid":"c","to":"a b","text":"hi"})", &r).ok());
}

TEST_CASE("codec: publish bodies and forms") {
  using chatd::proto::Publish;
  Publish p;
  REQUIRE(chatd::proto::DecodePublish(R"({"to":["bob","eve@x.org"],"title":"T","text":"hi","data":{"url":"/a","n":[1,2]},"cid":"p1"})", &p).ok());
  CHECK(p.to == std::vector<std::string>{"bob", "eve@x.org"});
  CHECK(p.data == R"({"url":"/a","n":[1,2]})");
  CHECK(p.cid == "p1");
  CHECK_FALSE(p.create);
  REQUIRE(chatd::proto::DecodePublish(R"({"to":"*","text":"all"})", &p).ok());
  CHECK(p.everyone);
  REQUIRE(chatd::proto::DecodePublish(R"({"room":"general","title":"only a title","create":true})", &p).ok());
  CHECK(p.room == "general");
  CHECK(p.create);
  for (const char* bad : {R"({"text":"no target"})", R"({"to":"bob","room":"r","text":"both"})", R"({"to":"bob"})",
                          R"({"to":[],"text":"x"})", R"({"to":["a b"],"text":"x"})", R"({"to":"bob","text":"x","data":[1]})",
                          R"({"to":"bob","text":"x","create":"yes"})", R"([1])", "nope"}) {
    CAPTURE(bad);
    CHECK(chatd::proto::DecodePublish(bad, &p).code() == chatd::util::Code::kBadRequest);
  }
  std::string many = R"({"to":[)";
  for (int i = 0; i < 1001; ++i) many += (i ? ",\"u" : "\"u") + std::to_string(i) + "\"";
  CHECK_FALSE(chatd::proto::DecodePublish(many + R"(],"text":"x"})", &p).ok());
  std::vector<std::pair<std::string, std::string>> f;
  REQUIRE(chatd::proto::DecodeForm("type=publish&to=1763&content=Hello+world%21%20%E2%9C%93&empty=&flag", &f).ok());
  CHECK(chatd::proto::FormValue(f, "content") == "Hello world! \xe2\x9c\x93");
  CHECK(chatd::proto::FormValue(f, "to") == "1763");
  bool present = false;
  CHECK(chatd::proto::FormValue(f, "empty", &present).empty());
  CHECK(present);
  chatd::proto::FormValue(f, "missing", &present);
  CHECK_FALSE(present);
  CHECK_FALSE(chatd::proto::DecodeForm("a=%zz", &f).ok());
  CHECK_FALSE(chatd::proto::DecodeForm("a=%4", &f).ok());
  CHECK_FALSE(chatd::proto::DecodeForm("a=%00", &f).ok());
}
