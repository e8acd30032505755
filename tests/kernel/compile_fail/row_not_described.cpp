// clang-format off
// expect: a read-model row must be a struct described with BOOST_DESCRIBE_STRUCT
// A typed query into a struct that BOOST_DESCRIBE_STRUCT does not describe.
#include <cstdint>
#include <string>

#include "strata/persistence/read_model.hpp"

struct total_row {
  std::string id;
  std::int64_t total = 0;
};

strata::result<std::vector<total_row>> totals(strata::read_model_reader& reader) {
  return reader.query<total_row>("SELECT id, total FROM totals");
}
