// Catch2 2.x runs one reporter at a time. The console reporter stays, so the
// meson test log reads as usual, and this listener writes a JUnit file beside
// it when VAULTD_REPORT names one: one <testcase> per TEST_CASE that ran, with
// the failed assertions; tests/summary.py counts them. The file is removed
// when the run starts, so a run that crashes leaves no stale report behind.
// Linked into every test executable.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

namespace {

std::string escaped(const std::string& text)
{
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default:
            // XML 1.0 allows no control characters but tab and newlines.
            if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
                out += '?';
            else
                out += c;
        }
    }
    return out;
}

std::string fileStem(const std::string& path)
{
    const auto slash = path.find_last_of('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    return name.substr(0, name.find('.'));
}

class JunitListener : public Catch::TestEventListenerBase {
public:
    using TestEventListenerBase::TestEventListenerBase;

    void testRunStarting(const Catch::TestRunInfo& info) override
    {
        suite_ = info.name;
        runStart_ = Clock::now();
        if (const char* path = reportPath())
            std::remove(path);
    }

    void testCaseStarting(const Catch::TestCaseInfo& info) override
    {
        current_ = Case{info.name, fileStem(info.lineInfo.file), {}, 0.0};
        caseStart_ = Clock::now();
    }

    bool assertionEnded(const Catch::AssertionStats& stats) override
    {
        const Catch::AssertionResult& r = stats.assertionResult;
        if (r.isOk())
            return true;
        std::string text = r.getSourceInfo().file + std::string(":") +
                           std::to_string(r.getSourceInfo().line) + ": ";
        if (r.hasExpression())
            text += r.getExpressionInMacro();
        if (r.getResultType() == Catch::ResultWas::ExpressionFailed)
            text += "\n  with expansion: " + r.getExpandedExpression();
        if (r.hasMessage())
            text += "\n  " + r.getMessage();
        for (const auto& info : stats.infoMessages) {
            if (info.type == Catch::ResultWas::Info)
                text += "\n  with " + info.message;
        }
        current_.failures.push_back(text);
        return true;
    }

    void testCaseEnded(const Catch::TestCaseStats& /*stats*/) override
    {
        current_.seconds = std::chrono::duration<double>(Clock::now() - caseStart_).count();
        cases_.push_back(current_);
    }

    void testRunEnded(const Catch::TestRunStats& /*stats*/) override
    {
        if (const char* path = reportPath()) {
            std::ofstream out(path);
            write(out);
        }
    }

private:
    using Clock = std::chrono::steady_clock;

    static const char* reportPath()
    {
        const char* path = std::getenv("VAULTD_REPORT");
        return path != nullptr && *path != '\0' ? path : nullptr;
    }

    struct Case {
        std::string name;
        std::string file;
        std::vector<std::string> failures;
        double seconds = 0.0;
    };

    void write(std::ostream& out) const
    {
        std::size_t failed = 0;
        for (const auto& c : cases_)
            failed += c.failures.empty() ? 0 : 1;
        const double total = std::chrono::duration<double>(Clock::now() - runStart_).count();

        out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
        out << "<testsuites name=\"" << escaped(suite_) << "\" tests=\"" << cases_.size()
            << "\" failures=\"" << failed << "\" errors=\"0\" time=\"" << total << "\">\n";
        out << "  <testsuite name=\"" << escaped(suite_) << "\" tests=\"" << cases_.size()
            << "\" failures=\"" << failed << "\" errors=\"0\" skipped=\"0\" time=\"" << total
            << "\">\n";
        for (const auto& c : cases_) {
            out << "    <testcase classname=\"" << escaped(suite_ + "." + c.file) << "\" name=\""
                << escaped(c.name) << "\" time=\"" << c.seconds << "\"";
            if (c.failures.empty()) {
                out << "/>\n";
                continue;
            }
            out << ">\n";
            for (const auto& f : c.failures)
                out << "      <failure message=\"assertion failed\">" << escaped(f)
                    << "</failure>\n";
            out << "    </testcase>\n";
        }
        out << "  </testsuite>\n</testsuites>\n";
    }

    std::string suite_;
    Clock::time_point runStart_;
    Clock::time_point caseStart_;
    Case current_;
    std::vector<Case> cases_;
};

}  // namespace

CATCH_REGISTER_LISTENER(JunitListener)
