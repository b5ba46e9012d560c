// NetNodes: a small network of Linux network namespaces for across-nodes
// tests and benchmarks, one namespace per node, as if each were a machine.
// Node i has eth0 = 10.201.0.(i+1)/24, a veth whose other end is on a bridge;
// the bridge lives in a namespace of its own, so nothing touches the host's
// network. Names include the creating process's pid ("ampmr-1234-n0"), so
// concurrent test runs never collide. The destructor removes every namespace
// (and so every link); creating a NetNodes first removes namespaces left by
// test processes that no longer exist (killed before their destructor ran).
//
// Needs root and iproute2. Not thread-safe.
#ifndef AMPMR_TESTS_INTEGRATION_NET_NODES_H_
#define AMPMR_TESTS_INTEGRATION_NET_NODES_H_

#include <memory>
#include <string>
#include <vector>

namespace ampmr::testing {

class NetNodes {
 public:
  // `nodes` namespaces on one bridge; null (with the reason in *error) if
  // they cannot be made.
  static std::unique_ptr<NetNodes> Create(int nodes, std::string* error);
  ~NetNodes();

  NetNodes(const NetNodes&) = delete;
  NetNodes& operator=(const NetNodes&) = delete;

  const std::string& ns(int node) const { return names_[node]; }
  std::string ip(int node) const;
  // `argv` run inside node's namespace (through `ip netns exec`); the
  // process keeps its pid, so Daemon and RunCommand work on it as usual.
  std::vector<std::string> In(int node, const std::vector<std::string>& argv) const;

  // Takes node's link to the bridge down (a partition: packets vanish, no
  // reset is sent) or up again. False if `ip` failed.
  bool Cut(int node);
  bool Heal(int node);

 private:
  explicit NetNodes(std::string prefix) : prefix_(std::move(prefix)) {}
  bool Ip(const std::vector<std::string>& args, std::string* error = nullptr) const;

  const std::string prefix_;   // "ampmr-PID-"
  std::string bridge_ns_;      // holds the bridge and the veths' far ends
  std::vector<std::string> names_;
};

}  // namespace ampmr::testing

#endif  // AMPMR_TESTS_INTEGRATION_NET_NODES_H_
