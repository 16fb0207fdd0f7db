// Logging with a fixed set of journal fields. Messages go to the journal when
// systemd started us (JOURNAL_STREAM is set), to stderr otherwise. Never pass
// a secret, or its length, in a message or a field. Thread safe.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace vaultd::log {

// The only field names we log, so they never drift.
enum class Field { Volume, Device, Mapping, MountPoint, Error, Uid, Operation };

using Fields = std::initializer_list<std::pair<Field, std::string_view>>;

void info(std::string_view message, Fields fields = {});
void warning(std::string_view message, Fields fields = {});
void error(std::string_view message, Fields fields = {});
void debug(std::string_view message, Fields fields = {});

void setDebug(bool enabled);

}  // namespace vaultd::log
