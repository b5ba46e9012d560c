// The dashboard's static files (master/dashboard/: index.html, app.js,
// style.css), compiled into the master so it needs nothing beside it.
#ifndef AMPMR_MASTER_DASHBOARD_ASSETS_H_
#define AMPMR_MASTER_DASHBOARD_ASSETS_H_

#include <string_view>
#include <vector>

namespace ampmr::master {

struct DashboardAsset {
  const char* name;  // "app.js"
  const char* content_type;
  std::string_view body;
};

const std::vector<DashboardAsset>& DashboardAssets();

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_DASHBOARD_ASSETS_H_
