// The main of the test binaries that start servers (integration, fault),
// plus a doctest listener that tells the helpers when a test case fails, so
// servers print their logs exactly when someone will want to read them.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "helpers/server_process.h"

namespace {

class ServerLogListener : public doctest::IReporter {
 public:
  explicit ServerLogListener(const doctest::ContextOptions&) {}

  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {
    kv::test::SetCurrentTestFailed(false);
  }
  void test_case_start(const doctest::TestCaseData&) override {
    kv::test::SetCurrentTestFailed(false);
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
    // Servers created inside the test case have already dumped their logs
    // from their destructors; what is still registered is shared servers.
    if (!stats.testCaseSuccess) kv::test::ServerProcess::DumpAllLogs("a test case failed");
  }
  void test_case_exception(const doctest::TestCaseException&) override {
    kv::test::SetCurrentTestFailed(true);
  }
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData& data) override {
    if (data.m_failed) kv::test::SetCurrentTestFailed(true);
  }
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("server_logs", 1, ServerLogListener);
