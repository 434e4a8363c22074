#include <holdfast/pool/pool_hooks.hpp>
// (header under test first: it must compile on its own)
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "fake_resource.hpp"
#include <asio/io_context.hpp>
#include <gtest/gtest.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/core/with.hpp>
#include <holdfast/pool/pool.hpp>

// Every way a pool hook (and the body of a with() over a lease) can fail, as a table: for
// each row, the hook fails on its k-th call (k = 1, 2, 3) in a run of rounds of "acquire, use
// with with(), return", through the blocking and the asynchronous acquire. Each round checks
// what reached the caller, that no lease leaked (the gauges add up and every live resource
// is the pool's), that the resource the failure concerned was destroyed exactly once and
// never handed out again, and that the pool kept working.
namespace {

using namespace std::chrono_literals;
using holdfast::manual_clock;
using holdfast::pool;
using holdfast::pool_options;
using holdfast::pool_stats;
using holdfast::testing::fake_connection;
using holdfast::testing::fake_world;

using fake_pool = pool<fake_connection>;

enum class hook { none, factory, on_create, validate, reset, is_fatal_error, on_leak };
// throws, or reports failure by its result: validate/reset return false, is_fatal_error true.
enum class failure { throws, reports };
enum class body { returns, throws_in_failing_round, always_throws };
enum class acquire_kind { blocking, async };

struct hook_case {
    std::string_view name;
    hook failing;  // fails on its k-th call
    failure how;
    body body_behaviour;
    // What reaches the caller in the failing round: what() of the exception, "" for none.
    std::string_view caller_sees;
    // Goes from 0 to 1 in the failing round (null: no counter for this failure).
    std::uint64_t pool_stats::*counter;
    // The resource the failure concerns is destroyed at once and never handed out again;
    // otherwise it stays in the pool and serves the next round.
    bool resource_destroyed;
    // The one report the cleanup error handler receives, "" for none.
    std::string_view cleanup_report;
};

// The documented outcomes (pool_hooks.hpp, lease.hpp, docs/pool.md).
const hook_case hook_cases[] = {
    {"FactoryThrows", hook::factory, failure::throws, body::returns, "factory failed",
     &pool_stats::creation_failures, false, ""},
    {"OnCreateThrows", hook::on_create, failure::throws, body::returns, "on_create failed",
     &pool_stats::creation_failures, true, ""},
    {"ValidateThrows", hook::validate, failure::throws, body::returns, "",
     &pool_stats::validation_failures, true, ""},
    {"ValidateReturnsFalse", hook::validate, failure::reports, body::returns, "",
     &pool_stats::validation_failures, true, ""},
    {"ResetThrows", hook::reset, failure::throws, body::returns, "", &pool_stats::reset_failures,
     true, "reset failed"},
    {"ResetReturnsFalse", hook::reset, failure::reports, body::returns, "",
     &pool_stats::reset_failures, true, ""},
    {"BodyThrows", hook::none, failure::throws, body::throws_in_failing_round, "body failed",
     nullptr, false, ""},
    {"BodyThrowsAndResetThrows", hook::reset, failure::throws, body::throws_in_failing_round,
     "body failed", &pool_stats::reset_failures, true, "reset failed"},
    {"ExitIsFatalErrorThrows", hook::is_fatal_error, failure::throws, body::always_throws,
     "body failed", &pool_stats::closed_broken, true, ""},
    {"ExitIsFatalErrorSaysFatal", hook::is_fatal_error, failure::reports, body::always_throws,
     "body failed", &pool_stats::closed_broken, true, ""},
    {"OnLeakThrows", hook::on_leak, failure::throws, body::returns, "", nullptr, false,
     "on_leak failed"},
};

void PrintTo(const hook_case& c, std::ostream* os) {
    *os << c.name;
}
void PrintTo(acquire_kind kind, std::ostream* os) {
    *os << (kind == acquire_kind::blocking ? "blocking" : "async");
}

constexpr int rounds = 4;

class PoolHookFailure : public ::testing::TestWithParam<std::tuple<hook_case, acquire_kind>> {
  protected:
    void SetUp() override {
        holdfast::set_cleanup_error_handler([this](std::exception_ptr e, std::string_view) {
            std::lock_guard lock(reports_mutex_);
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                reports_.emplace_back(ex.what());
            }
        });
    }
    void TearDown() override { holdfast::set_cleanup_error_handler(nullptr); }

    std::vector<std::string> reports() {
        std::lock_guard lock(reports_mutex_);
        return reports_;
    }
    void clear_reports() {
        std::lock_guard lock(reports_mutex_);
        reports_.clear();
    }

    // One run: the hook of `c` fails on its k-th call.
    void run_with_failure_at(const hook_case& c, acquire_kind kind, int k);

  private:
    std::mutex reports_mutex_;
    std::vector<std::string> reports_;
};

void PoolHookFailure::run_with_failure_at(const hook_case& c, acquire_kind kind, int k) {
    clear_reports();
    auto world = std::make_shared<fake_world>();
    auto clock = std::make_shared<manual_clock>();
    int calls = 0;      // of the failing hook
    int failed_on = 0;  // id of the resource the failing hook ran on
    auto fails_now = [&](hook h) { return h == c.failing && ++calls == k; };

    pool_options o;
    o.name = "hooks";
    o.max_size = 1;
    o.clock = clock;
    o.max_lifetime = 0ns;
    o.idle_timeout = 0ns;
    if (c.failing == hook::factory || c.failing == hook::on_create)
        o.max_uses = 1;                                            // create each round
    if (c.failing == hook::validate) o.validate_after_idle = 0ns;  // validate each acquire
    if (c.failing == hook::on_leak) o.leak_threshold = 1min;

    auto factory = [&]() {
        if (fails_now(hook::factory)) throw std::runtime_error("factory failed");
        return fake_connection(world);
    };
    holdfast::pool_hooks<fake_connection> hooks;
    hooks.on_create = [&](fake_connection& r) {
        if (fails_now(hook::on_create)) {
            failed_on = r.id();
            throw std::runtime_error("on_create failed");
        }
    };
    hooks.validate = [&](fake_connection& r) {
        if (!fails_now(hook::validate)) return true;
        failed_on = r.id();
        if (c.how == failure::throws) throw std::runtime_error("validate failed");
        return false;
    };
    hooks.reset = [&](fake_connection& r) {
        if (!fails_now(hook::reset)) return true;
        failed_on = r.id();
        if (c.how == failure::throws) throw std::runtime_error("reset failed");
        return false;
    };
    hooks.is_fatal_error = [&](std::exception_ptr) {
        if (!fails_now(hook::is_fatal_error)) return false;
        if (c.how == failure::throws) throw std::runtime_error("is_fatal_error failed");
        return true;
    };
    hooks.on_leak = [&](const holdfast::lease_leak&) {
        if (fails_now(hook::on_leak)) throw std::runtime_error("on_leak failed");
    };

    asio::io_context io;
    std::optional<fake_pool> p;
    if (kind == acquire_kind::blocking) {
        p.emplace(factory, o, hooks);
    } else {
        p.emplace(io.get_executor(), factory, o, hooks);
        io.poll();  // the first maintenance pass
    }
    auto acquire = [&]() -> fake_pool::lease {
        if (kind == acquire_kind::blocking) return p->acquire();
        // A plain callback completes on the pool's executor (asio::use_future would complete
        // on the system executor's threads).
        bool completed = false;
        std::exception_ptr error;
        fake_pool::lease acquired;
        p->async_acquire([&](std::exception_ptr e, fake_pool::lease l) {
            completed = true;
            error = std::move(e);
            acquired = std::move(l);
        });
        io.restart();
        io.poll();
        if (!completed) throw std::logic_error("async_acquire did not complete");
        if (error) std::rethrow_exception(error);
        return acquired;
    };

    std::vector<int> handed_out;
    for (int round = 1; round <= rounds; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        const bool failing_round = round == k;
        const bool body_throws =
            c.body_behaviour == body::always_throws ||
            (c.body_behaviour == body::throws_in_failing_round && failing_round);
        std::string caller_saw;
        int used = 0;
        try {
            auto lease = acquire();
            used = lease->id();
            handed_out.push_back(used);
            if (c.failing == hook::on_leak) {
                clock->advance(2min);
                p->run_maintenance();  // reports the lease held for 2 min
            }
            holdfast::with(std::move(lease), [&](fake_connection&) {
                if (body_throws) throw std::runtime_error("body failed");
            });
        } catch (const std::exception& e) {
            caller_saw = e.what();
        }
        if (failing_round) {
            EXPECT_EQ(caller_saw, c.caller_sees);
        } else {
            EXPECT_EQ(caller_saw, body_throws ? "body failed" : "");
        }
        if (kind == acquire_kind::async) {
            io.restart();
            io.poll();
        }

        // No lease leaked, nothing half-created, and every live resource is the pool's.
        const auto s = p->stats();
        EXPECT_EQ(s.in_use, 0u);
        EXPECT_EQ(s.waiting, 0u);
        EXPECT_EQ(s.creating, 0u);
        EXPECT_EQ(s.in_use + s.idle + s.creating, s.size);
        EXPECT_EQ(world->alive(), static_cast<int>(s.size));
        EXPECT_LE(s.size, 1u);
        if (c.counter) {
            EXPECT_EQ(p->stats().*(c.counter), round >= k ? 1u : 0u);
        }

        if (c.failing == hook::is_fatal_error && failing_round) failed_on = used;
        if (round >= k && c.resource_destroyed) {
            ASSERT_NE(failed_on, 0);
            EXPECT_EQ(world->destructions_of(failed_on), 1) << "destroyed exactly once, at once";
            if (round > k || c.failing == hook::validate) {
                EXPECT_NE(used, failed_on) << "handed out again after its failure";
            }
        }
        if (round == k + 1 && !c.resource_destroyed && c.failing != hook::factory) {
            EXPECT_EQ(used, handed_out[handed_out.size() - 2]) << "kept and reused";
        }
        // The pool keeps working: every later round got a resource.
        if (round > k) {
            EXPECT_NE(used, 0);
        }
    }

    const auto r = reports();
    if (c.cleanup_report.empty()) {
        EXPECT_TRUE(r.empty()) << r.front();
    } else {
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0], c.cleanup_report);
    }

    p->close();
    EXPECT_EQ(world->alive(), 0);
    for (int id = 1; id <= world->created; ++id) {
        EXPECT_EQ(world->destructions_of(id), 1) << "resource " << id;
    }
    p.reset();
}

TEST_P(PoolHookFailure, OutcomeIsAsDocumentedAndNothingLeaks) {
    const auto& [c, kind] = GetParam();
    for (int k = 1; k <= 3; ++k) {
        SCOPED_TRACE("the hook fails on call " + std::to_string(k));
        run_with_failure_at(c, kind, k);
        if (HasFatalFailure()) return;
    }
}

std::string case_name(const ::testing::TestParamInfo<PoolHookFailure::ParamType>& info) {
    const auto& c = std::get<0>(info.param);
    const bool blocking = std::get<1>(info.param) == acquire_kind::blocking;
    return std::string(c.name) + (blocking ? "Blocking" : "Async");
}

INSTANTIATE_TEST_SUITE_P(EveryHook, PoolHookFailure,
                         ::testing::Combine(::testing::ValuesIn(hook_cases),
                                            ::testing::Values(acquire_kind::blocking,
                                                              acquire_kind::async)),
                         case_name);

// Without an executor the constructor opens min_size resources; when the k-th creation
// fails, the ones opened before it are destroyed exactly once and the failure propagates.
TEST(PoolHookFailureInConstructor, KthMinSizeCreationFailingDestroysTheOnesOpened) {
    for (int k = 1; k <= 3; ++k) {
        SCOPED_TRACE("creation " + std::to_string(k) + " fails");
        auto world = std::make_shared<fake_world>();
        int calls = 0;
        pool_options o;
        o.min_size = 3;
        o.max_size = 3;
        auto factory = [&] {
            if (++calls == k) throw std::runtime_error("factory failed");
            return fake_connection(world);
        };
        EXPECT_THROW(fake_pool(factory, o), std::runtime_error);
        EXPECT_EQ(world->created, k - 1);
        EXPECT_EQ(world->alive(), 0);
        for (int id = 1; id < k; ++id) EXPECT_EQ(world->destructions_of(id), 1);
    }
}

}  // namespace
