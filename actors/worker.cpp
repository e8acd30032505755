#include "strata/actors/worker.hpp"

#include <exception>

namespace strata::actors {

error report_exception(const logger& log, std::string_view context) noexcept {
  try {
    std::string what = "an exception that is not a std::exception";
    try {
      throw;
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    error e{errc::internal, log.component() + ": " + std::string{context} + " threw: " + what};
    log.error(e.message);
    return e;
  } catch (...) {  // out of memory while reporting
    return error{errc::internal, {}};
  }
}

}  // namespace strata::actors
