// The ampmr version every binary prints for --version.
#ifndef AMPMR_COMMON_VERSION_H_
#define AMPMR_COMMON_VERSION_H_

namespace ampmr {

inline constexpr char kVersion[] = "0.1.0";

}  // namespace ampmr

#endif  // AMPMR_COMMON_VERSION_H_
