// ampmr_delay_proxy LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MS
//
// A TCP proxy that adds DELAY_MS to each direction of every connection it
// carries: bytes read at time t are written on at t + DELAY_MS, in order.
// It stands in for `tc netem` (absent from this machine's kernel) between the
// network namespaces of the across-nodes tests and benchmark. Prints
// "listening" on stdout once it accepts connections; runs until killed.
//
// Threads: the main thread accepts; each direction of each connection has a
// reader thread and a writer thread joined by a queue of timed chunks.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

struct Chunk {
  Clock::time_point due;
  std::string data;  // empty: end of stream
};

// One direction of one connection.
class Pipe {
 public:
  Pipe(int from, int to, std::chrono::milliseconds delay) : from_(from), to_(to), delay_(delay) {}

  void Run() {
    std::thread writer([this] { Write(); });
    Read();
    writer.join();
  }

 private:
  void Read() {
    char buf[64 << 10];
    while (true) {
      ssize_t n = ::read(from_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      Push(n > 0 ? std::string(buf, n) : std::string());
      if (n <= 0) return;
    }
  }
  void Push(std::string data) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Chunk{Clock::now() + delay_, std::move(data)});
    cv_.notify_one();
  }
  void Write() {
    while (true) {
      Chunk chunk;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !queue_.empty(); });
        chunk = std::move(queue_.front());
        queue_.pop_front();
      }
      std::this_thread::sleep_until(chunk.due);
      if (chunk.data.empty()) {
        ::shutdown(to_, SHUT_WR);
        return;
      }
      size_t done = 0;
      while (done < chunk.data.size()) {
        ssize_t n = ::write(to_, chunk.data.data() + done, chunk.data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          // The far side is gone: stop both ends of this direction.
          ::shutdown(from_, SHUT_RD);
          ::shutdown(to_, SHUT_WR);
          return;
        }
        done += static_cast<size_t>(n);
      }
    }
  }

  const int from_;
  const int to_;
  const std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> queue_;
};

bool Resolve(const std::string& host_port, sockaddr_in* out) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) return false;
  std::memset(out, 0, sizeof(*out));
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(std::atoi(host_port.c_str() + colon + 1)));
  return inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &out->sin_addr) == 1;
}

void NoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void Serve(int client, sockaddr_in target, std::chrono::milliseconds delay) {
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
    ::close(client);
    if (server >= 0) ::close(server);
    return;
  }
  NoDelay(client);
  NoDelay(server);
  Pipe up(client, server, delay);
  Pipe down(server, client, delay);
  std::thread t([&down] { down.Run(); });
  up.Run();
  t.join();
  ::close(client);
  ::close(server);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MS\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  sockaddr_in listen_addr, target;
  if (!Resolve(argv[1], &listen_addr) || !Resolve(argv[2], &target)) {
    std::fprintf(stderr, "%s: want IPv4 HOST:PORT addresses\n", argv[0]);
    return 2;
  }
  std::chrono::milliseconds delay(std::atoi(argv[3]));
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(listener, reinterpret_cast<sockaddr*>(&listen_addr), sizeof(listen_addr)) != 0 ||
      ::listen(listener, 128) != 0) {
    std::fprintf(stderr, "%s: listen on %s: %s\n", argv[0], argv[1], std::strerror(errno));
    return 1;
  }
  std::printf("listening\n");
  std::fflush(stdout);
  while (true) {
    int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::thread(Serve, client, target, delay).detach();
  }
}
