// Fake resources for the pool tests: a connection that counts its lives and can be told to
// break, and a factory whose failures and duration the test controls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <holdfast/pool/pool_hooks.hpp>

namespace holdfast::testing {

/// Shared counters of one test's resources, kept alive by every fake_connection.
struct fake_world {
    std::atomic<int> created{0};
    std::atomic<int> destroyed{0};
    std::atomic<int> failures_to_inject{0};  // the next N creations throw
    std::atomic<int> creation_attempts{0};
    std::chrono::milliseconds creation_delay{0};  // real time: only the spike test uses it

    int alive() const { return created - destroyed; }

    /// How many times the resource with this id was destroyed: "exactly once" is 1.
    int destructions_of(int id) const {
        std::lock_guard lock(ids_mutex_);
        return id >= 0 && static_cast<std::size_t>(id) < destructions_.size()
                   ? destructions_[static_cast<std::size_t>(id)]
                   : 0;
    }
    void record_destruction(int id) {
        std::lock_guard lock(ids_mutex_);
        if (static_cast<std::size_t>(id) >= destructions_.size()) {
            destructions_.resize(static_cast<std::size_t>(id) + 1);
        }
        ++destructions_[static_cast<std::size_t>(id)];
    }

  private:
    mutable std::mutex ids_mutex_;
    std::vector<int> destructions_;  // by id
};

class fake_connection {
  public:
    explicit fake_connection(std::shared_ptr<fake_world> world)
        : world_(std::move(world)), id_(++world_->created) {}
    fake_connection(const fake_connection&) = delete;
    fake_connection& operator=(const fake_connection&) = delete;
    ~fake_connection() {
        world_->record_destruction(id_);
        ++world_->destroyed;
    }

    int id() const { return id_; }
    bool broken = false;          // validate reports false
    bool reset_fails = false;     // reset returns false
    bool reset_throws = false;    // reset throws
    bool in_transaction = false;  // reset rolls back
    int uses = 0;

  private:
    std::shared_ptr<fake_world> world_;
    int id_;
};

/// A factory that honours the world's injected failures and delay.
inline std::function<fake_connection()> fake_factory(std::shared_ptr<fake_world> world) {
    return [world]() {
        ++world->creation_attempts;
        if (world->creation_delay.count() > 0) std::this_thread::sleep_for(world->creation_delay);
        int left = world->failures_to_inject.load();
        while (left > 0 && !world->failures_to_inject.compare_exchange_weak(left, left - 1)) {
        }
        if (left > 0) throw std::runtime_error("connection refused");
        return fake_connection(world);
    };
}

/// Hooks that consult the fake connection's flags.
inline pool_hooks<fake_connection> fake_hooks() {
    pool_hooks<fake_connection> hooks;
    hooks.validate = [](fake_connection& c) { return !c.broken; };
    hooks.reset = [](fake_connection& c) {
        if (c.reset_throws) throw std::runtime_error("rollback failed");
        c.in_transaction = false;
        return !c.reset_fails;
    };
    return hooks;
}

/// Spins (yielding, never sleeping) until `condition` holds: for "this thread is now queued".
template <class Condition>
void wait_until(Condition condition) {
    while (!condition()) std::this_thread::yield();
}

}  // namespace holdfast::testing
