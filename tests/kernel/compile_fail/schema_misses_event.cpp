// clang-format off
// expect: A::events() must register every alternative of A::event
// expect: schema_registers_event<planted::cleared, false>
// The schema registers `added` but forgets `cleared`.
#include "planted.hpp"

const strata::schema<planted::event>& incomplete_events() {
  static const strata::schema<planted::event> s =
      strata::schema<planted::event>::builder().event<planted::added>("Added", 1).build();
  return s;
}
