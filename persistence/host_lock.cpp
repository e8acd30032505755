#include "strata/persistence/host_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace strata {

namespace {

class sqlite_host_lock final : public host_lock {
 public:
  sqlite_host_lock(int fd, std::string path) noexcept : fd_(fd), path_(std::move(path)) {}
  ~sqlite_host_lock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  sqlite_host_lock(const sqlite_host_lock&) = delete;
  sqlite_host_lock& operator=(const sqlite_host_lock&) = delete;

  const std::string& what() const noexcept override { return path_; }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

std::string host_lock_held_message(const std::string& what) {
  return "a runtime is running on this store (its host lock " + what +
         " is held); use runtime::rebuild_projection from the host, or stop it";
}

result<std::unique_ptr<host_lock>> lock_sqlite_host(const std::string& journal_path) {
  const std::string path = journal_path + ".host-lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return error{errc::unavailable,
                 "cannot open the host lock file " + path + ": " + std::strerror(errno)};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) return error{errc::conflict, host_lock_held_message(path)};
    return error{errc::unavailable, "cannot lock " + path + ": " + std::strerror(e)};
  }
  return std::unique_ptr<host_lock>{new sqlite_host_lock{fd, path}};
}

}  // namespace strata
