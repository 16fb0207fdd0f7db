#include "system/log.hpp"

#include <syslog.h>
#include <systemd/sd-journal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "engine/quote.hpp"

namespace vaultd::log {
namespace {

std::atomic<bool> debugEnabled{false};
std::mutex stderrMutex;

// A message quotes callers' strings cut short already (engine::quoted); these
// bounds keep any one line sane even where a long string slipped through.
constexpr std::size_t kMaxMessage = 1024;
constexpr std::size_t kMaxField = 256;

std::string_view bounded(std::string_view message)
{
    return engine::clipped(message, kMaxMessage);
}
std::string_view boundedField(std::string_view value)
{
    return engine::clipped(value, kMaxField);
}

const char* fieldName(Field f)
{
    switch (f) {
    case Field::Volume: return "VOLUME";
    case Field::Device: return "DEVICE";
    case Field::Mapping: return "MAPPING";
    case Field::MountPoint: return "MOUNT_POINT";
    case Field::Error: return "ERROR";
    case Field::Uid: return "UID";
    case Field::Operation: return "OPERATION";
    }
    return "UNKNOWN";
}

bool toJournal()
{
    static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    return journal;
}

void toJournal(int priority, std::string_view message, Fields fields)
{
    std::vector<std::string> lines;
    lines.reserve(fields.size() + 3);
    lines.push_back("MESSAGE=" + std::string(bounded(message)));
    lines.push_back("PRIORITY=" + std::to_string(priority));
    lines.push_back("SYSLOG_IDENTIFIER=vaultd");
    for (const auto& [field, value] : fields)
        lines.push_back(std::string(fieldName(field)) + "=" + std::string(boundedField(value)));

    std::vector<iovec> iov;
    iov.reserve(lines.size());
    for (auto& line : lines)
        iov.push_back({line.data(), line.size()});
    sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

// Callers' strings reach messages (names, paths): a newline in one must not
// forge a line of its own in a text log.
std::string escaped(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

void toStderr(int priority, std::string_view message, Fields fields)
{
    std::string line = "vaultd: ";
    if (priority <= LOG_ERR)
        line += "error: ";
    else if (priority == LOG_WARNING)
        line += "warning: ";
    line += escaped(bounded(message));
    for (const auto& [field, value] : fields) {
        line += ' ';
        line += fieldName(field);
        line += '=';
        line += escaped(boundedField(value));
    }
    line += '\n';
    std::lock_guard lock(stderrMutex);
    std::fputs(line.c_str(), stderr);
}

void emit(int priority, std::string_view message, Fields fields)
{
    if (priority == LOG_DEBUG && !debugEnabled)
        return;
    if (toJournal())
        toJournal(priority, message, fields);
    else
        toStderr(priority, message, fields);
}

}  // namespace

void info(std::string_view message, Fields fields)
{
    emit(LOG_INFO, message, fields);
}
void warning(std::string_view message, Fields fields)
{
    emit(LOG_WARNING, message, fields);
}
void error(std::string_view message, Fields fields)
{
    emit(LOG_ERR, message, fields);
}
void debug(std::string_view message, Fields fields)
{
    emit(LOG_DEBUG, message, fields);
}

void setDebug(bool enabled)
{
    debugEnabled = enabled;
}

}  // namespace vaultd::log
