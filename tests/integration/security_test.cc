// The cluster token, protected defaults and listeners, on real processes
// over loopback: calls without the token, or with another, are refused with
// UNAUTHENTICATED before any job or worker logic runs.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ampmr/v1/job.grpc.pb.h"
#include "ampmr/v1/session.grpc.pb.h"
#include "ampmr/v1/shuffle.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";
// Not the cluster's (TestToken()).
constexpr char kOtherToken[] = "fedcba9876543210fedcba9876543210";

// A token file of mode 0600 in `dir`.
std::string TokenFile(const std::string& dir, const std::string& name, const std::string& token) {
  const std::string path = absl::StrCat(dir, "/", name);
  WriteFile(path, token + "\n");
  chmod(path.c_str(), 0600);
  return path;
}

// Puts the cluster's token on a raw call.
void Authorize(grpc::ClientContext* context) {
  context->AddMetadata("authorization", absl::StrCat("Bearer ", TestToken()));
}

// A raw call to `method` ("/ampmr.v1.JobService/SubmitJob") carrying `token`
// ("": none) and an empty request message, as any gRPC client could make.
grpc::Status RawCall(const std::string& address, const std::string& method,
                     const std::string& token) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status result;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) {
                   std::lock_guard<std::mutex> lock(mu);
                   result = status;
                   done = true;
                   cv.notify_all();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  return result;
}

// Every method of `service` ("ampmr.v1.JobService"), as "/SERVICE/METHOD".
std::vector<std::string> MethodsOf(const std::string& service) {
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  std::vector<std::string> methods;
  if (descriptor == nullptr) return methods;
  for (int i = 0; i < descriptor->method_count(); ++i) {
    methods.push_back(absl::StrCat("/", service, "/", descriptor->method(i)->name()));
  }
  return methods;
}

TEST(SecurityTest, EveryCallWithoutTheTokenIsRefused) {
  ScratchDir tmp;
  const std::string& token = TestTokenFile();
  TestCluster cluster(tmp.path(), 0, {"--token-file", token});
  std::vector<std::string> methods = MethodsOf("ampmr.v1.JobService");
  for (const std::string& m : MethodsOf("ampmr.v1.WorkerSession")) methods.push_back(m);
  ASSERT_GE(methods.size(), 8u);
  for (const std::string& method : methods) {
    grpc::Status none = RawCall(cluster.address(), method, "");
    EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    EXPECT_THAT(none.error_message(), HasSubstr("missing token")) << method;
    grpc::Status wrong = RawCall(cluster.address(), method, kOtherToken);
    EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    EXPECT_THAT(wrong.error_message(), HasSubstr("wrong token")) << method;
  }
  // With the token the same empty requests reach the service (and are
  // answered on their merits).
  EXPECT_NE(RawCall(cluster.address(), "/ampmr.v1.JobService/ListJobs", TestToken()).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Health checking needs no token.
  EXPECT_TRUE(RawCall(cluster.address(), "/grpc.health.v1.Health/Check", "").ok());
  // Refusals are logged, but not once per call.
  const std::string log = ReadFile(tmp.path() + "/master.log");
  EXPECT_THAT(log, HasSubstr("refused JobService.SubmitJob from ipv4:127.0.0.1"));
  EXPECT_THAT(log, Not(HasSubstr("refused JobService.GetJob")));
}

TEST(SecurityTest, UnauthenticatedSubmitRunsNothing) {
  ScratchDir tmp;
  const std::string& token = TestTokenFile();
  TestCluster cluster(tmp.path(), 1, {"--token-file", token});
  const std::string input = tmp.path() + "/in.txt";
  WriteFile(input, "a b c\n");
  const std::string ran = tmp.path() + "/ran";
  v1::SubmitJobRequest request;
  request.mutable_spec()->add_inputs(input);
  request.mutable_spec()->set_output(tmp.path() + "/out");
  request.mutable_spec()->set_mapper(absl::StrCat("exec:id > ", ran));
  auto stub = v1::JobService::NewStub(
      grpc::CreateChannel(cluster.address(), grpc::InsecureChannelCredentials()));
  for (const std::string& presented : {std::string(), std::string(kOtherToken)}) {
    grpc::ClientContext context;
    if (!presented.empty()) context.AddMetadata("authorization", "Bearer " + presented);
    v1::SubmitJobResponse response;
    grpc::Status status = stub->SubmitJob(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(response.job_id(), "");
  }
  CommandResult jobs = RunCommand(
      {BinPath("ampmr"), "jobs", "--master", cluster.address(), "--token-file", token, "--json"},
      absl::Seconds(30));
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  EXPECT_EQ(jobs.out, "");
  EXPECT_FALSE(WaitUntil([&] { return !ReadFile(ran).empty(); }, absl::Milliseconds(500)));
}

TEST(SecurityTest, RawWorkerSessionWithoutTheTokenGetsNoTasks) {
  ScratchDir tmp;
  const std::string& token = TestTokenFile();
  TestCluster cluster(tmp.path(), 0, {"--token-file", token});
  auto stub = v1::WorkerSession::NewStub(
      grpc::CreateChannel(cluster.address(), grpc::InsecureChannelCredentials()));
  for (const std::string& presented : {std::string(), std::string(kOtherToken)}) {
    grpc::ClientContext context;
    if (!presented.empty()) context.AddMetadata("authorization", "Bearer " + presented);
    auto stream = stub->Connect(&context);
    v1::Box hello;
    hello.set_ask(1);
    hello.mutable_command()->mutable_hello()->set_host("intruder");
    hello.mutable_command()->mutable_hello()->set_slots(24);
    stream->Write(hello);
    v1::Box answer;
    EXPECT_FALSE(stream->Read(&answer));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  CommandResult workers = RunCommand(
      {BinPath("ampmr"), "workers", "--master", cluster.address(), "--token-file", token, "--json"},
      absl::Seconds(30));
  ASSERT_EQ(workers.exit_code, 0) << workers.err;
  EXPECT_EQ(workers.out, "");
}

TEST(SecurityTest, ClientSaysInOneLineTheTokenWasMissingOrRefused) {
  ScratchDir tmp;
  const std::string& token = TestTokenFile();
  const std::string other = TokenFile(tmp.path(), "other", kOtherToken);
  TestCluster cluster(tmp.path(), 0, {"--token-file", token});
  CommandResult none = RunCommand({BinPath("ampmr"), "jobs", "--master", cluster.address()},
                                  absl::Seconds(30), {{"AMPMR_TOKEN_FILE", ""}});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.err,
            "ampmr: missing token: this cluster requires its token (--token-file FILE or "
            "$AMPMR_TOKEN_FILE)\n");
  CommandResult wrong = RunCommand(
      {BinPath("ampmr"), "status", "--master", cluster.address(), "--token-file", other, "j1"},
      absl::Seconds(30));
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_EQ(wrong.err,
            "ampmr: wrong token: the cluster refused the token given (--token-file or "
            "$AMPMR_TOKEN_FILE)\n");
  // $AMPMR_TOKEN_FILE is the default.
  CommandResult from_env = RunCommand({BinPath("ampmr"), "jobs", "--master", cluster.address()},
                                      absl::Seconds(30), {{"AMPMR_TOKEN_FILE", token}});
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
}

TEST(SecurityTest, TokenFileReadableByOthersIsRefused) {
  ScratchDir tmp;
  const std::string token = TokenFile(tmp.path(), "token", kToken);
  chmod(token.c_str(), 0640);
  CommandResult master =
      RunCommand({BinPath("ampmr-master"), "--listen", "127.0.0.1:0", "--token-file", token},
                 absl::Seconds(30));
  EXPECT_EQ(master.exit_code, 2);
  EXPECT_EQ(master.err, absl::StrCat("ampmr-master: --token-file ", token,
                                     ": the token file must be readable by its owner only, but "
                                     "its mode is 0640 (run: chmod 600 ",
                                     token, ")\n"));
  CommandResult client =
      RunCommand({BinPath("ampmr"), "jobs", "--master", "127.0.0.1:1", "--token-file", token},
                 absl::Seconds(30));
  EXPECT_EQ(client.exit_code, 2);
  EXPECT_THAT(client.err, HasSubstr("must be readable by its owner only"));
}

TEST(SecurityTest, NonLoopbackListenNeedsATokenOrInsecure) {
  ScratchDir tmp;
  CommandResult refused = RunCommand({BinPath("ampmr-master"), "--listen", "0.0.0.0:0"},
                                     absl::Seconds(30), {{"AMPMR_TOKEN_FILE", ""}});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("--listen 0.0.0.0:0: not a loopback address"));
  EXPECT_THAT(refused.err, HasSubstr("--token-file"));
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  CommandResult http =
      RunCommand({BinPath("ampmr-master"), "--listen", "127.0.0.1:0", "--http", "0.0.0.0:0"},
                 absl::Seconds(30), {{"AMPMR_TOKEN_FILE", ""}});
  EXPECT_EQ(http.exit_code, 2);
  EXPECT_THAT(http.err, HasSubstr("--http 0.0.0.0:0: not a loopback address"));

  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--insecure"},
        std::vector<std::string>{"--token-file", TokenFile(tmp.path(), "token", kToken)}}) {
    std::vector<std::string> argv = {BinPath("ampmr-master"), "--listen", "0.0.0.0:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto master = Daemon::Start(argv, tmp.path() + "/master.log", {{"AMPMR_TOKEN_FILE", ""}});
    EXPECT_THAT(master->ReadLine(absl::Seconds(20)), HasSubstr("ampmr-master listening on"))
        << extra[0];
  }
}

TEST(SecurityTest, SecondMasterOnATakenPortFails) {
  ScratchDir tmp;
  const int http_port = FreePort();
  TestCluster cluster(tmp.path(), 0, {"--http", absl::StrCat("127.0.0.1:", http_port)});
  CommandResult grpc_taken =
      RunCommand({BinPath("ampmr-master"), "--listen", cluster.address()}, absl::Seconds(30));
  EXPECT_EQ(grpc_taken.exit_code, 1);
  EXPECT_EQ(grpc_taken.err, absl::StrCat("ampmr-master: --listen ", cluster.address(),
                                         ": address already in use\n"));
  CommandResult http_taken = RunCommand({BinPath("ampmr-master"), "--listen", "127.0.0.1:0",
                                         "--http", absl::StrCat("127.0.0.1:", http_port)},
                                        absl::Seconds(30));
  EXPECT_EQ(http_taken.exit_code, 1);
  EXPECT_THAT(http_taken.err,
              HasSubstr(absl::StrCat("--http 127.0.0.1:", http_port, ": address already in use")));
}

TEST(SecurityTest, StatusPageNeedsTheTokenOrItsCookie) {
  ScratchDir tmp;
  const std::string& token = TestTokenFile();
  const int port = FreePort();
  TestCluster cluster(tmp.path(), 0,
                      {"--token-file", token, "--http", absl::StrCat("127.0.0.1:", port)});
  httplib::Client http("127.0.0.1", port);
  for (const char* path : {"/", "/metrics", "/jobs/j1", "/api/v1/jobs", "/api/v1/workers",
                           "/api/v1/handlers", "/static/app.js"}) {
    auto refused = http.Get(path);
    ASSERT_TRUE(refused) << path;
    EXPECT_EQ(refused->status, 401) << path;
    EXPECT_THAT(refused->body, Not(HasSubstr("ampmr_workers"))) << path;
    auto wrong = http.Get(path, {{"Authorization", absl::StrCat("Bearer ", kOtherToken)}});
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401) << path;
  }
  auto metrics = http.Get("/metrics", {{"Authorization", absl::StrCat("Bearer ", TestToken())}});
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("ampmr_workers 0\n"));

  // A browser logs in once and keeps a cookie, which is not the token.
  auto bad_login = http.Post("/login", "token=nope", "application/x-www-form-urlencoded");
  ASSERT_TRUE(bad_login);
  EXPECT_EQ(bad_login->status, 401);
  auto login =
      http.Post("/login", absl::StrCat("token=", TestToken()), "application/x-www-form-urlencoded");
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 303);
  const std::string cookie = login->get_header_value("Set-Cookie");
  ASSERT_THAT(cookie, HasSubstr("ampmr_session=")) << cookie;
  EXPECT_THAT(cookie, HasSubstr("HttpOnly"));
  EXPECT_THAT(cookie, Not(HasSubstr(TestToken())));
  auto page = http.Get("/", {{"Cookie", cookie.substr(0, cookie.find(';'))}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("/static/app.js"));  // the dashboard
  auto workers = http.Get("/api/v1/workers", {{"Cookie", cookie.substr(0, cookie.find(';'))}});
  ASSERT_TRUE(workers);
  EXPECT_EQ(workers->status, 200);
  EXPECT_THAT(workers->body, HasSubstr("\"workers\":[]"));
}

TEST(SecurityTest, EnvValuesReachTheTaskAndNothingElse) {
  ScratchDir tmp;
  const int http_port = FreePort();
  TestCluster cluster(tmp.path(), 1, {"--http", absl::StrCat("127.0.0.1:", http_port)});
  ASSERT_TRUE(cluster.WaitForWorkers(1));
  const std::string secret = "s3cr3t-value-4242";
  WriteFile(tmp.path() + "/in.txt", "x\n");
  const std::string output = tmp.path() + "/out";
  CommandResult submit =
      RunCommand({BinPath("ampmr"), "submit", "--master", cluster.address(), "--wait", "--input",
                  tmp.path() + "/in.txt", "--output", output, "--mapper", "exec:printenv API_KEY",
                  "--reducer", "none", "--env", "API_KEY=" + secret},
                 absl::Seconds(60));
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  // The task saw it...
  std::string parts;
  for (const auto& entry : std::filesystem::directory_iterator(output)) {
    parts += ReadFile(entry.path().string());
  }
  EXPECT_THAT(parts, HasSubstr(secret));
  // ... and nothing else shows it: GetJob, ListJobs, WatchJob (submit
  // --wait), the status page, the logs. The key still shows.
  const std::string job_id = submit.out.substr(0, submit.out.find('\n'));
  CommandResult status =
      RunCommand({BinPath("ampmr"), "status", "--master", cluster.address(), "--json", job_id},
                 absl::Seconds(30));
  CommandResult jobs = RunCommand(
      {BinPath("ampmr"), "jobs", "--master", cluster.address(), "--json"}, absl::Seconds(30));
  httplib::Client http("127.0.0.1", http_port);
  auto page = http.Get("/", {{"Authorization", absl::StrCat("Bearer ", TestToken())}});
  ASSERT_TRUE(page);
  EXPECT_THAT(status.out, HasSubstr("API_KEY"));
  for (const std::string& seen :
       {submit.out, submit.err, status.out, jobs.out, page->body,
        ReadFile(tmp.path() + "/master.log"), ReadFile(tmp.path() + "/worker0.log")}) {
    EXPECT_THAT(seen, Not(HasSubstr(secret)));
  }
}

TEST(SecurityTest, ARetriedSubmitWithTheSameRequestIdMakesOneJob) {
  ScratchDir tmp;
  TestCluster cluster(tmp.path(), 0);
  WriteFile(tmp.path() + "/in.txt", "x\n");
  auto stub = v1::JobService::NewStub(
      grpc::CreateChannel(cluster.address(), grpc::InsecureChannelCredentials()));
  v1::SubmitJobRequest request;
  request.set_request_id("retry-me-1");
  request.mutable_spec()->add_inputs(tmp.path() + "/in.txt");
  request.mutable_spec()->set_output(tmp.path() + "/out");
  request.mutable_spec()->set_mapper("builtin:wordcount");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::SubmitJobResponse response;
    ASSERT_TRUE(stub->SubmitJob(&context, request, &response).ok());
    ids.push_back(response.job_id());
  }
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(ids[0], ids[2]);
  CommandResult jobs = RunCommand(
      {BinPath("ampmr"), "jobs", "--master", cluster.address(), "--json"}, absl::Seconds(30));
  EXPECT_EQ(std::count(jobs.out.begin(), jobs.out.end(), '\n'), 1) << jobs.out;
  // Another id is another job; an id past its bound is refused.
  request.set_request_id("retry-me-2");
  request.mutable_spec()->set_output(tmp.path() + "/out2");
  grpc::ClientContext context;
  Authorize(&context);
  v1::SubmitJobResponse response;
  ASSERT_TRUE(stub->SubmitJob(&context, request, &response).ok());
  EXPECT_NE(response.job_id(), ids[0]);
  request.set_request_id(std::string(129, 'r'));
  grpc::ClientContext long_context;
  Authorize(&long_context);
  grpc::Status refused = stub->SubmitJob(&long_context, request, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message(), "request_id: longer than 128 bytes");
}

TEST(SecurityTest, RelativeOutputOverTheRawApiIsRefused) {
  ScratchDir tmp;
  TestCluster cluster(tmp.path(), 0);
  WriteFile(tmp.path() + "/in.txt", "x\n");
  auto stub = v1::JobService::NewStub(
      grpc::CreateChannel(cluster.address(), grpc::InsecureChannelCredentials()));
  v1::SubmitJobRequest request;
  request.mutable_spec()->add_inputs(tmp.path() + "/in.txt");
  request.mutable_spec()->set_output("out");
  request.mutable_spec()->set_mapper("builtin:wordcount");
  grpc::ClientContext context;
  Authorize(&context);
  v1::SubmitJobResponse response;
  grpc::Status status = stub->SubmitJob(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "output: \"out\" is not an absolute path");
}

// A CA made for the test with Debian's openssl, and certificates it signed
// for 127.0.0.1: `server` (CN and SAN 127.0.0.1, localhost); plus `other`, a
// self-signed CA that signed nothing here.
struct TestCertificates {
  std::string ca, server_cert, server_key, other_ca;
};
TestCertificates MakeCertificates(const std::string& dir) {
  auto openssl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    CommandResult r = RunCommand(args, absl::Seconds(60));
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << ": " << r.err;
  };
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                       "-nodes"};
  TestCertificates c{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key",
                     dir + "/other-ca.pem"};
  auto req = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "req");
    args.insert(args.begin() + 1, ec.begin(), ec.end());
    openssl(args);
  };
  req({"-x509", "-keyout", dir + "/ca.key", "-out", c.ca, "-days", "2", "-subj", "/CN=test-ca"});
  req({"-x509", "-keyout", dir + "/other-ca.key", "-out", c.other_ca, "-days", "2", "-subj",
       "/CN=other-ca"});
  req({"-keyout", c.server_key, "-out", dir + "/server.csr", "-subj", "/CN=127.0.0.1"});
  WriteFile(dir + "/san.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl({"x509", "-req", "-in", dir + "/server.csr", "-CA", c.ca, "-CAkey", dir + "/ca.key",
           "-CAcreateserial", "-out", c.server_cert, "-days", "2", "-extfile", dir + "/san.ext"});
  return c;
}

TEST(SecurityTest, TlsWithTheClustersCaAndARefusedClientWithout) {
  ScratchDir tmp;
  const TestCertificates certs = MakeCertificates(tmp.path());
  const std::string& token = TestTokenFile();
  TestCluster cluster(
      tmp.path(), 0,
      {"--token-file", token, "--tls-cert", certs.server_cert, "--tls-key", certs.server_key});
  const std::vector<std::string> jobs = {BinPath("ampmr"),  "jobs",         "--master",
                                         cluster.address(), "--token-file", token};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = jobs;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv, absl::Seconds(60));
  };
  CommandResult ok = with({"--tls-ca", certs.ca});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("STATE"));

  CommandResult plain = with({});
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_THAT(plain.err, HasSubstr("if it serves TLS, give --tls-ca"));
  EXPECT_EQ(std::count(plain.err.begin(), plain.err.end(), '\n'), 1) << plain.err;

  CommandResult other = with({"--tls-ca", certs.other_ca});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.err, HasSubstr(absl::StrCat("TLS: its certificate is not signed by a CA in "
                                                "--tls-ca ",
                                                certs.other_ca)));
  EXPECT_EQ(std::count(other.err.begin(), other.err.end(), '\n'), 1) << other.err;

  // Over TLS the token is still required.
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(certs.ca);
  auto stub =
      v1::JobService::NewStub(grpc::CreateChannel(cluster.address(), grpc::SslCredentials(ssl)));
  grpc::ClientContext context;
  v1::ListJobsResponse response;
  EXPECT_EQ(stub->ListJobs(&context, v1::ListJobsRequest(), &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// A call goes client -> master -> worker -> master -> client over TLS, with
// the token on the client's hop; without the token it is refused.
TEST(SecurityTest, ACallThroughTheMasterOverTlsWithTheToken) {
  ScratchDir tmp;
  const TestCertificates certs = MakeCertificates(tmp.path());
  const std::vector<std::string> tls = {"--tls-cert", certs.server_cert, "--tls-key",
                                        certs.server_key};
  TestCluster cluster(tmp.path(), 1, tls,
                      Concat(tls, {"--tls-ca", certs.ca, "--handler", "echo=builtin:echo"}));
  // NOT_FOUND until the worker has joined.
  CommandResult call;
  EXPECT_TRUE(WaitUntil([&] {
    call = RunCommand({BinPath("ampmr"), "call", "--master", cluster.address(), "--tls-ca",
                       certs.ca, "--handler", "echo", "over tls"},
                      absl::Seconds(60));
    return call.exit_code == 0;
  })) << call.err
      << ReadFile(tmp.path() + "/worker0.log");
  EXPECT_EQ(call.out, "over tls");

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(certs.ca);
  auto stub =
      v1::JobService::NewStub(grpc::CreateChannel(cluster.address(), grpc::SslCredentials(ssl)));
  v1::CallRequest request;
  request.set_handler("echo");
  request.set_payload("x");
  v1::CallResponse response;
  grpc::ClientContext no_token;
  EXPECT_EQ(stub->Call(&no_token, request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext with_token;
  with_token.AddMetadata("authorization", absl::StrCat("Bearer ", TestToken()));
  grpc::Status answered = stub->Call(&with_token, request, &response);
  EXPECT_TRUE(answered.ok()) << answered.error_message();
  EXPECT_EQ(response.payload(), "x");
}

TEST(SecurityTest, BadTlsFilesAreRefusedAtStart) {
  ScratchDir tmp;
  const TestCertificates certs = MakeCertificates(tmp.path());
  CommandResult wrong_key =
      RunCommand({BinPath("ampmr-master"), "--listen", "127.0.0.1:0", "--tls-cert",
                  certs.server_cert, "--tls-key", tmp.path() + "/ca.key"},
                 absl::Seconds(30));
  EXPECT_EQ(wrong_key.exit_code, 2);
  EXPECT_EQ(wrong_key.err,
            absl::StrCat("ampmr-master: --tls-key ", tmp.path(),
                         "/ca.key is not the key of --tls-cert ", certs.server_cert, "\n"));
  CommandResult no_key = RunCommand(
      {BinPath("ampmr-master"), "--listen", "127.0.0.1:0", "--tls-cert", certs.server_cert},
      absl::Seconds(30));
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_EQ(no_key.err, "ampmr-master: --tls-cert: needs --tls-key too\n");
  CommandResult not_pem = RunCommand(
      {BinPath("ampmr"), "jobs", "--tls-ca", tmp.path() + "/san.ext"}, absl::Seconds(30));
  EXPECT_EQ(not_pem.exit_code, 2);
  EXPECT_THAT(not_pem.err, HasSubstr("san.ext: holds no PEM certificate"));
}

// A raw ShuffleService.Fetch over `channel` carrying `token` ("": none), as
// any process that can reach a worker could make.
grpc::Status RawFetch(const std::shared_ptr<grpc::Channel>& channel, const std::string& token) {
  auto stub = v1::ShuffleService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  v1::FetchRequest request;
  request.set_attempt_id("j1-m0-a1");
  request.set_length(10);
  auto reader = stub->Fetch(&context, request);
  v1::Chunk chunk;
  while (reader->Read(&chunk)) {
  }
  return reader->Finish();
}

// The shuffle address of the first worker `ampmr workers --json` lists
// (`extra` added to its command line); "" if none.
std::string ShuffleAddress(const std::string& master, const std::vector<std::string>& extra = {}) {
  CommandResult r = RunCommand(
      Concat({BinPath("ampmr"), "workers", "--master", master, "--json"}, extra), absl::Seconds(30));
  const std::string key = "\"shuffle_address\":\"";
  const size_t at = r.out.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return r.out.substr(start, r.out.find('"', start) - start);
}

TEST(SecurityTest, ShuffleFetchWithoutTheTokenIsRefused) {
  ScratchDir tmp;
  TestCluster cluster(tmp.path(), 1);
  ASSERT_TRUE(cluster.WaitForWorkers(1));
  const std::string address = ShuffleAddress(cluster.address());
  ASSERT_NE(address, "");
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::Status none = RawFetch(channel, "");
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(none.error_message(), HasSubstr("missing token"));
  grpc::Status wrong = RawFetch(channel, kOtherToken);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(wrong.error_message(), HasSubstr("wrong token"));
  // With the token the fetch reaches the store, which has no such output.
  grpc::Status right = RawFetch(channel, TestToken());
  EXPECT_EQ(right.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(right.error_message(), "no map output for attempt=j1-m0-a1");
}

TEST(SecurityTest, WorkerWithAWrongTokenNeverJoinsAndSaysSoOnce) {
  ScratchDir tmp;
  TestCluster cluster(tmp.path(), 1);
  ASSERT_TRUE(cluster.WaitForWorkers(1));
  const std::string other = TokenFile(tmp.path(), "other", kOtherToken);
  const std::string log = tmp.path() + "/intruder.log";
  auto intruder = Daemon::Start(
      {BinPath("ampmr-worker"), "--master", cluster.address(), "--token-file", other}, log);
  const std::string said = "the master refused this worker's token (wrong token";
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(log).find(said) != std::string::npos; }))
      << ReadFile(log);
  EXPECT_THAT(ReadFile(log), HasSubstr("give the cluster's --token-file"));
  // It keeps retrying, and is never registered.
  ASSERT_TRUE(WaitUntil([&] {
    return ReadFile(tmp.path() + "/master.log").find("refused WorkerSession.Connect") !=
           std::string::npos;
  }));
  EXPECT_TRUE(cluster.WaitForWorkers(1));
  CommandResult workers = RunCommand(
      {BinPath("ampmr"), "workers", "--master", cluster.address(), "--json"}, absl::Seconds(30));
  EXPECT_EQ(std::count(workers.out.begin(), workers.out.end(), '\n'), 1) << workers.out;
  const std::string text = ReadFile(log);
  size_t lines = 0;
  for (size_t at = text.find(said); at != std::string::npos; at = text.find(said, at + 1)) ++lines;
  EXPECT_EQ(lines, 1u) << text;
}

TEST(SecurityTest, ShuffleServerOnANonLoopbackAddressNeedsATokenOrInsecure) {
  ScratchDir tmp;
  CommandResult refused = RunCommand(
      {BinPath("ampmr-worker"), "--master", "127.0.0.1:1", "--shuffle-listen", "0.0.0.0:0"},
      absl::Seconds(30), {{"AMPMR_TOKEN_FILE", ""}});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("--shuffle-listen 0.0.0.0:0: not a loopback address"));
  EXPECT_THAT(refused.err, HasSubstr("--token-file"));
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  // --insecure: it starts, and tries the (absent) master.
  const std::string log = tmp.path() + "/worker.log";
  auto worker = Daemon::Start({BinPath("ampmr-worker"), "--master", "127.0.0.1:1",
                               "--shuffle-listen", "0.0.0.0:0", "--insecure"},
                              log, {{"AMPMR_TOKEN_FILE", ""}});
  EXPECT_TRUE(WaitUntil(
      [&] { return ReadFile(log).find("cannot reach master=127.0.0.1:1") != std::string::npos; }))
      << ReadFile(log);
}

TEST(SecurityTest, HelloPastItsBoundsIsRefused) {
  ScratchDir tmp;
  TestCluster cluster(tmp.path(), 0);
  auto stub = v1::WorkerSession::NewStub(
      grpc::CreateChannel(cluster.address(), grpc::InsecureChannelCredentials()));
  for (int handlers : {0, 1}) {
    grpc::ClientContext context;
    Authorize(&context);
    auto stream = stub->Connect(&context);
    v1::Box hello;
    hello.set_ask(1);
    v1::Hello* h = hello.mutable_command()->mutable_hello();
    h->set_slots(1);
    if (handlers == 0) {
      h->set_host(std::string(100000, 'h'));
    } else {
      h->set_host("ok");
      h->add_handlers(std::string(200, 'n'));
    }
    ASSERT_TRUE(stream->Write(hello));
    std::string error;
    v1::Box box;
    while (error.empty() && stream->Read(&box)) {
      if (box.has_error()) error = box.error().description();
      for (const v1::Box& b : box.batch()) {
        if (b.has_error()) error = b.error().description();
      }
    }
    EXPECT_EQ(error, handlers == 0 ? "Hello: host is 100000 bytes, more than 255"
                                   : "Hello: a handler name is 200 bytes, more than 128");
    context.TryCancel();
    stream->Finish();
  }
  CommandResult workers = RunCommand(
      {BinPath("ampmr"), "workers", "--master", cluster.address(), "--json"}, absl::Seconds(30));
  EXPECT_EQ(workers.out, "");
  // Logged once, and never the host in full.
  const std::string log = ReadFile(tmp.path() + "/master.log");
  EXPECT_THAT(log, HasSubstr("refused a worker's Hello"));
  EXPECT_THAT(log, Not(HasSubstr(std::string(300, 'h'))));
}

TEST(SecurityTest, WorkersServeTheShuffleOverTlsAndVerifyTheMaster) {
  ScratchDir tmp;
  const TestCertificates certs = MakeCertificates(tmp.path());
  const std::vector<std::string> tls = {"--tls-cert", certs.server_cert, "--tls-key",
                                        certs.server_key};
  TestCluster cluster(tmp.path(), 2, tls, Concat(tls, {"--tls-ca", certs.ca}));
  const std::string in = tmp.path() + "/in";
  MakeCorpus(in, 4, 20000);
  const std::string output = tmp.path() + "/out";
  CommandResult submit = RunCommand(
      {BinPath("ampmr"), "submit", "--master", cluster.address(), "--tls-ca", certs.ca, "--wait",
       "--input", in, "--output", output, "--mapper", "builtin:wordcount", "--reducer",
       "builtin:sum", "--reduces", "3", "--split-size", "8000"},
      absl::Seconds(120));
  ASSERT_EQ(submit.exit_code, 0) << submit.err << ReadFile(tmp.path() + "/worker0.log");
  EXPECT_EQ(ReadCounts(output), SequentialWordCount(in));

  // The shuffle server speaks TLS only, and still wants the token.
  const std::string address = ShuffleAddress(cluster.address(), {"--tls-ca", certs.ca});
  ASSERT_NE(address, "");
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(certs.ca);
  auto tls_channel = grpc::CreateChannel(address, grpc::SslCredentials(ssl));
  EXPECT_EQ(RawFetch(tls_channel, TestToken()).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(RawFetch(tls_channel, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto plain = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  EXPECT_EQ(RawFetch(plain, TestToken()).error_code(), grpc::StatusCode::UNAVAILABLE);

  // A worker without --tls-ca cannot reach the TLS master and says why.
  const std::string log = tmp.path() + "/plain-worker.log";
  auto worker = Daemon::Start({BinPath("ampmr-worker"), "--master", cluster.address()}, log);
  EXPECT_TRUE(WaitUntil([&] {
    return ReadFile(log).find("if it serves TLS, give --tls-ca") != std::string::npos;
  })) << ReadFile(log);
}

// Runs a map-only job of `mapper` over one line on the master at `address`
// (in `dir`, with `extra` flags) and returns its part files' text, or the
// submit's error.
std::string MapOnlyOutput(const std::string& address, const std::string& dir,
                          const std::string& mapper, const std::vector<std::string>& extra = {}) {
  WriteFile(dir + "/in.txt", "x\n");
  const std::string output = dir + "/out";
  std::vector<std::string> argv = {BinPath("ampmr"), "submit", "--master", address, "--wait",
                                   "--input", dir + "/in.txt", "--output", output, "--mapper",
                                   mapper, "--reducer", "none"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  CommandResult submit = RunCommand(argv, absl::Seconds(60));
  if (submit.exit_code != 0) return "submit failed: " + submit.err;
  std::string parts;
  for (const auto& entry : std::filesystem::directory_iterator(output)) {
    parts += ReadFile(entry.path().string());
  }
  return parts;
}

TEST(SecurityTest, TaskUserRunsExecTasksAsThatUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ScratchDir tmp;
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0711), 0);  // nobody passes through to the work dir
  TestCluster cluster(tmp.path(), 1, {}, {"--task-user", "nobody"});
  EXPECT_EQ(MapOnlyOutput(cluster.address(), tmp.path(), "exec:cat >/dev/null; id -u"),
            absl::StrCat(nobody->pw_uid, "\n"));
}

TEST(SecurityTest, TaskUserRunsShippedScriptsInADirectoryOfItsOwnAndSeesNothingElse) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ScratchDir tmp;
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0711), 0);  // nobody passes through to the work dir
  TestCluster cluster(tmp.path(), 1, {}, {"--task-user", "nobody"});
  // 0600: only its owner may read it, and the task still runs it.
  const std::string probe = tmp.path() + "/probe.sh";
  WriteFile(probe,
            "cat >/dev/null\n"
            "id -u\n"
            "[ -r probe.sh ] && echo readable\n"
            "touch made-here && echo writable\n"
            "ls .. >/dev/null 2>&1 && echo listed-attempts\n"
            "ls ../.. >/dev/null 2>&1 && echo listed-work-dir\n"
            "ls ../../private >/dev/null 2>&1 && echo entered-private\n"
            "ls ../../files >/dev/null 2>&1 && echo entered-files\n"
            "exit 0\n");
  ASSERT_EQ(::chmod(probe.c_str(), 0600), 0);
  EXPECT_EQ(MapOnlyOutput(cluster.address(), tmp.path(), "exec:sh probe.sh", {"--file", probe}),
            absl::StrCat(nobody->pw_uid, "\nreadable\nwritable\n"));
}

TEST(SecurityTest, TaskUserWorksInTheDefaultWorkDir) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ScratchDir tmp;
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0711), 0);
  TestCluster cluster(tmp.path(), 0);
  // No --work-dir: a new directory under $TMPDIR (here the test's own).
  auto worker = Daemon::Start({BinPath("ampmr-worker"), "--master", cluster.address(),
                               "--task-user", "nobody"},
                              tmp.path() + "/worker.log", {{"TMPDIR", tmp.path()}});
  ASSERT_TRUE(cluster.WaitForWorkers(1)) << ReadFile(tmp.path() + "/worker.log");
  EXPECT_EQ(MapOnlyOutput(cluster.address(), tmp.path(), "exec:cat >/dev/null; id -u"),
            absl::StrCat(nobody->pw_uid, "\n"))
      << ReadFile(tmp.path() + "/worker.log");
  worker->Signal(SIGTERM);
  EXPECT_EQ(worker->Wait(absl::Seconds(30)), 0);
}

TEST(SecurityTest, AWorkDirOfOthersIsRefused) {
  ScratchDir tmp;
  const std::string shared = tmp.path() + "/shared";
  ASSERT_EQ(::mkdir(shared.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(shared.c_str(), 01777), 0);
  CommandResult r = RunCommand({BinPath("ampmr-worker"), "--work-dir", shared}, absl::Seconds(30));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, absl::StrCat("ampmr-worker: --work-dir ", shared,
                                ": writable by others (mode 1777); give the worker a directory "
                                "of its own\n"));
  // Left as it was.
  struct stat st;
  ASSERT_EQ(::stat(shared.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  if (geteuid() != 0) return;
  struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  const std::string theirs = tmp.path() + "/theirs";
  ASSERT_EQ(::mkdir(theirs.c_str(), 0700), 0);
  ASSERT_EQ(::chown(theirs.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  r = RunCommand({BinPath("ampmr-worker"), "--work-dir", theirs}, absl::Seconds(30));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, absl::StrCat("ampmr-worker: --work-dir ", theirs, ": owned by uid ",
                                nobody->pw_uid,
                                ", not by the worker's user (uid 0); give the worker a directory "
                                "of its own\n"));
}

TEST(SecurityTest, TaskUserRunsHandlerChildrenAsThatUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ScratchDir tmp;
  const std::string handler = absl::StrCat(
      "uid=exec /usr/bin/python3 -c 'import os, sys; sys.path.insert(0, \"", SourceDir(),
      "/sdk/python\"); import ampmr_handler; "
      "ampmr_handler.serve(lambda p: str(os.getuid()).encode())'");
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0711), 0);
  TestCluster cluster(tmp.path(), 1, {}, {"--task-user", "nobody", "--handler", handler});
  ASSERT_TRUE(cluster.WaitForWorkers(1));
  CommandResult call = RunCommand(
      {BinPath("ampmr"), "call", "--master", cluster.address(), "--handler", "uid", "x"},
      absl::Seconds(60));
  ASSERT_EQ(call.exit_code, 0) << call.err << ReadFile(tmp.path() + "/worker0.log");
  EXPECT_EQ(call.out, absl::StrCat(nobody->pw_uid));
}

TEST(SecurityTest, TaskUserIsRefusedWhenUnknownOrNotRoot) {
  CommandResult unknown = RunCommand({BinPath("ampmr-worker"), "--task-user", "no-such-user-ampmr"},
                                     absl::Seconds(30));
  EXPECT_EQ(unknown.exit_code, 2);
  if (geteuid() == 0) {
    EXPECT_EQ(unknown.err, "ampmr-worker: --task-user no-such-user-ampmr: no such user\n");
    // The same worker run as nobody may not take another identity.
    CommandResult not_root = RunCommand(
        {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
         BinPath("ampmr-worker"), "--task-user", "nobody"},
        absl::Seconds(30), {{"AMPMR_TOKEN_FILE", ""}});
    EXPECT_EQ(not_root.exit_code, 2) << not_root.err;
    EXPECT_EQ(not_root.err,
              "ampmr-worker: --task-user nobody: the worker must run as root to run tasks as "
              "another user\n");
    // A work dir the task user could not reach (under a directory of root's
    // alone) is refused at start, naming the directory in the way.
    ScratchDir tmp;
    ASSERT_EQ(::chmod(tmp.path().c_str(), 0700), 0);
    CommandResult unreachable = RunCommand({BinPath("ampmr-worker"), "--task-user", "nobody",
                                            "--work-dir", tmp.path() + "/w"},
                                           absl::Seconds(30));
    EXPECT_EQ(unreachable.exit_code, 2) << unreachable.err;
    EXPECT_EQ(unreachable.err,
              absl::StrCat("ampmr-worker: --task-user nobody: cannot reach the work dir ",
                           tmp.path(), "/w: ", tmp.path(),
                           " (mode 0700) does not let it pass; give a --work-dir that user may "
                           "reach\n"));
  } else {
    EXPECT_THAT(unknown.err, HasSubstr("must run as root"));
  }
}

}  // namespace
}  // namespace ampmr::testing
