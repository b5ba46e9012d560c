#include "common/framework_counters.h"

namespace ampmr {

const std::array<FrameworkCounterField, kFrameworkCounterCount>& FrameworkCounterFields() {
  using C = v1::FrameworkCounters;
  static const std::array<FrameworkCounterField, kFrameworkCounterCount> kFields = {{
      {"ampmr.map_input_records", &C::has_map_input_records, &C::map_input_records},
      {"ampmr.map_input_bytes", &C::has_map_input_bytes, &C::map_input_bytes},
      {"ampmr.map_output_records", &C::has_map_output_records, &C::map_output_records},
      {"ampmr.combine_input_records", &C::has_combine_input_records, &C::combine_input_records},
      {"ampmr.combine_output_records", &C::has_combine_output_records, &C::combine_output_records},
      {"ampmr.spilled_bytes", &C::has_spilled_bytes, &C::spilled_bytes},
      {"ampmr.reduce_input_groups", &C::has_reduce_input_groups, &C::reduce_input_groups},
      {"ampmr.reduce_input_records", &C::has_reduce_input_records, &C::reduce_input_records},
      {"ampmr.reduce_output_records", &C::has_reduce_output_records, &C::reduce_output_records},
      {"ampmr.shuffled_bytes", &C::has_shuffled_bytes, &C::shuffled_bytes},
  }};
  return kFields;
}

}  // namespace ampmr
