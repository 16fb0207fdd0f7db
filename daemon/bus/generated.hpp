// The adaptor glue generated from proto/ by sdbus-c++-xml2cpp. Marked as a
// system header because the generator's style is not ours to warn about.
#pragma once
#pragma GCC system_header

#include <sdbus-c++/sdbus-c++.h>

#include "job_adaptor.h"
#include "manager_adaptor.h"
#include "volume_adaptor.h"
