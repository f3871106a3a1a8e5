// Every bad request gets a 4xx JSON error whose code and message name the
// problem; the server keeps serving after each.
#include "tests/serving/serve_fixture.h"

namespace streamrec::testing {
namespace {

namespace http = boost::beast::http;

struct BadRequest {
  http::verb method;
  std::string target;
  int status;
  std::string error;
  std::string message_mentions;
};

TEST_F(ServeTest, BadRequestsGetAJsonErrorNamingTheProblem) {
  HttpClient client(start_serve());
  const std::string long_id(129, 'x');
  const BadRequest cases[] = {
      {http::verb::get, "/v1/nothing", 404, "unknown_route", "/v1/nothing"},
      {http::verb::post, "/", 405, "method_not_allowed", "GET"},  // GET / is the dashboard
      {http::verb::get, "/v1/users/u1", 405, "method_not_allowed", "DELETE"},  // the route forgets a user
      {http::verb::delete_, "/v1/users/u1/recommendations", 405, "method_not_allowed", "GET"},
      {http::verb::get, "/v1/events", 405, "method_not_allowed", "POST"},
      {http::verb::get, "/v1/users/" + long_id + "/recommendations", 400, "bad_id", "1 to 128 bytes, got 129"},
      {http::verb::get, "/v1/items/%zz", 400, "bad_id", "%-escape"},
      {http::verb::get, "/v1/items/a%0Ab", 400, "bad_id", "control character"},
      {http::verb::get, "/v1/users/u1/recommendations?k=0", 400, "k_out_of_range", "between 1 and 100"},
      {http::verb::get, "/v1/users/u1/recommendations?k=101", 400, "k_out_of_range", "got 101"},
      {http::verb::get, "/v1/users/u1/recommendations?k=ten", 400, "bad_k", "\"ten\""},
      {http::verb::get, "/v1/users/u1/recommendations?n=3", 400, "unknown_parameter", "\"n\""},
      {http::verb::get, "/v1/items/i1?x=1", 400, "unknown_parameter", "x=1"},
  };
  for (const BadRequest& c : cases) {
    auto answer = client.request(c.method, c.target);
    EXPECT_EQ(answer.status, c.status) << c.target << ": " << answer.body;
    auto json = answer.json();
    EXPECT_EQ(std::string_view(json["error"]), c.error) << c.target;
    EXPECT_NE(std::string_view(json["message"]).find(c.message_mentions), std::string_view::npos)
        << c.target << ": " << answer.body;
  }
  EXPECT_EQ(client.get("/healthz").status, 200);
}

TEST_F(ServeTest, KBoundComesFromTheConfig) {
  HttpClient client(start_serve({{"STREAMREC_SERVING_MAX_K", "5"}}));
  EXPECT_EQ(client.get("/v1/users/u1/recommendations?k=5").status, 200);
  auto answer = client.get("/v1/users/u1/recommendations?k=6");
  EXPECT_EQ(answer.status, 400);
  EXPECT_NE(answer.body.find("between 1 and 5 (serving.max_k)"), std::string::npos) << answer.body;
}

TEST_F(ServeTest, ABodyLargerThanTheLimitGets413AndTheServerStaysUp) {
  HttpClient client(start_serve({{"STREAMREC_SERVING_MAX_BODY_BYTES", "4096"}}));
  auto answer = client.request(http::verb::post, "/v1/events", std::string(5000, ' '),
                               {{"Authorization", std::string("Bearer ") + kToken}});
  EXPECT_EQ(answer.status, 413) << answer.body;
  EXPECT_EQ(std::string_view(answer.json()["error"]), "body_too_large");
  EXPECT_NE(answer.body.find("4096"), std::string::npos) << answer.body;
  HttpClient again(port_);
  EXPECT_EQ(again.get("/healthz").status, 200);
}

TEST_F(ServeTest, AMalformedHttpRequestGets400) {
  start_serve();
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)});
  boost::asio::write(socket, boost::asio::buffer(std::string("GARBAGE\r\n\r\n")));
  std::string answer;
  boost::beast::error_code ec;
  char chunk[4096];
  while (size_t n = socket.read_some(boost::asio::buffer(chunk), ec)) answer.append(chunk, n);
  EXPECT_NE(answer.find("400 Bad Request"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"error\":\"bad_request\""), std::string::npos) << answer;
}

}  // namespace
}  // namespace streamrec::testing
