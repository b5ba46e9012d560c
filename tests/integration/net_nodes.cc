#include "tests/integration/net_nodes.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

constexpr char kIp[] = "/usr/sbin/ip";
constexpr absl::Duration kIpTimeout = absl::Seconds(20);

// Namespaces "ampmr-PID-..." whose PID is no process any more.
void RemoveStaleNamespaces() {
  CommandResult list = RunCommand({kIp, "netns", "list"}, kIpTimeout);
  for (absl::string_view line : absl::StrSplit(list.out, '\n', absl::SkipEmpty())) {
    std::string name(line.substr(0, line.find(' ')));
    absl::string_view rest = name;
    if (!absl::ConsumePrefix(&rest, "ampmr-")) continue;
    int pid = 0;
    if (!absl::SimpleAtoi(rest.substr(0, rest.find('-')), &pid) || pid <= 0) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    RunCommand({kIp, "netns", "delete", name}, kIpTimeout);
  }
}

}  // namespace

bool NetNodes::Ip(const std::vector<std::string>& args, std::string* error) const {
  std::vector<std::string> argv = {kIp};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = RunCommand(argv, kIpTimeout);
  if (r.exit_code == 0) return true;
  if (error != nullptr) {
    std::ostringstream cmd;
    for (const auto& a : argv) cmd << a << " ";
    *error = absl::StrCat(cmd.str(), "failed: ", r.err);
  }
  return false;
}

std::unique_ptr<NetNodes> NetNodes::Create(int nodes, std::string* error) {
  if (::geteuid() != 0) {
    *error = "network namespaces need root";
    return nullptr;
  }
  RemoveStaleNamespaces();
  std::unique_ptr<NetNodes> net(new NetNodes(absl::StrCat("ampmr-", ::getpid(), "-")));
  net->bridge_ns_ = net->prefix_ + "br";
  const std::string& br = net->bridge_ns_;
  if (!net->Ip({"netns", "add", br}, error)) return nullptr;
  if (!net->Ip({"-n", br, "link", "add", "br0", "type", "bridge"}, error) ||
      !net->Ip({"-n", br, "link", "set", "br0", "up"}, error)) {
    return nullptr;
  }
  for (int i = 0; i < nodes; ++i) {
    std::string name = absl::StrCat(net->prefix_, "n", i);
    if (!net->Ip({"netns", "add", name}, error)) return nullptr;
    net->names_.push_back(name);
    std::string port = absl::StrCat("v", i);
    if (!net->Ip({"-n", br, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
                  name},
                 error) ||
        !net->Ip({"-n", br, "link", "set", port, "master", "br0"}, error) ||
        !net->Ip({"-n", br, "link", "set", port, "up"}, error) ||
        !net->Ip({"-n", name, "addr", "add", net->ip(i) + "/24", "dev", "eth0"}, error) ||
        !net->Ip({"-n", name, "link", "set", "eth0", "up"}, error) ||
        !net->Ip({"-n", name, "link", "set", "lo", "up"}, error)) {
      return nullptr;
    }
  }
  return net;
}

NetNodes::~NetNodes() {
  for (const std::string& name : names_) Ip({"netns", "delete", name});
  if (!bridge_ns_.empty()) Ip({"netns", "delete", bridge_ns_});
}

std::string NetNodes::ip(int node) const { return absl::StrCat("10.201.0.", node + 1); }

std::vector<std::string> NetNodes::In(int node, const std::vector<std::string>& argv) const {
  std::vector<std::string> out = {kIp, "netns", "exec", names_[node]};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

bool NetNodes::Cut(int node) {
  return Ip({"-n", bridge_ns_, "link", "set", absl::StrCat("v", node), "down"});
}

bool NetNodes::Heal(int node) {
  return Ip({"-n", bridge_ns_, "link", "set", absl::StrCat("v", node), "up"});
}

}  // namespace ampmr::testing
