// Storage for exit_stack: type-erased exit functions in fixed-size slots with a small inline
// buffer, in a stack with inline capacity, so registering small callbacks allocates nothing.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace holdfast::detail {

// Calls an exit function and normalises its result: void means "did not suppress".
template <class F>
bool call_exit(F& exit_fn, const std::exception_ptr& error) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, const std::exception_ptr&>>) {
        std::invoke(exit_fn, error);
        return false;
    } else {
        return static_cast<bool>(std::invoke(exit_fn, error));
    }
}

// One registered exit `bool(const std::exception_ptr&)`, type-erased. Callables up to three
// pointers that are nothrow-movable live in the slot; larger ones on the heap, so moving a
// slot never throws. A slot is raw storage: exit_slot_stack constructs and destroys it.
struct exit_slot {
    static constexpr std::size_t inline_size = 3 * sizeof(void*);

    struct operations {
        // Moves the callable out of the slot (ending the slot's use), then calls it. The slot
        // is free before the call, so the call may register new exits in the same stack.
        bool (*consume)(void* self, const std::exception_ptr& error);
        void (*relocate)(void* to, void* from) noexcept;  // move-construct, destroy the source
        void (*destroy)(void* self) noexcept;
    };

    template <class F>
    static constexpr bool stored_inline =
        sizeof(F) <= inline_size &&
        alignof(F) <= alignof(void*) && std::is_nothrow_move_constructible_v<F>;

    template <class F>
    static constexpr operations inline_operations{
        [](void* self, const std::exception_ptr& error) {
            F exit_fn(std::move(*static_cast<F*>(self)));
            static_cast<F*>(self)->~F();
            return call_exit(exit_fn, error);
        },
        [](void* to, void* from) noexcept {
            ::new (to) F(std::move(*static_cast<F*>(from)));
            static_cast<F*>(from)->~F();
        },
        [](void* self) noexcept { static_cast<F*>(self)->~F(); },
    };

    template <class F>
    static constexpr operations heap_operations{
        [](void* self, const std::exception_ptr& error) {
            std::unique_ptr<F> exit_fn(*static_cast<F**>(self));
            return call_exit(*exit_fn, error);
        },
        [](void* to, void* from) noexcept { *static_cast<F**>(to) = *static_cast<F**>(from); },
        [](void* self) noexcept { delete *static_cast<F**>(self); },
    };

    alignas(void*) std::byte buffer[inline_size];
    const operations* ops;
};

// A LIFO stack of exit slots with room for InlineCapacity of them inside the object itself;
// beyond that it moves to a heap buffer that grows geometrically.
template <std::size_t InlineCapacity>
class exit_slot_stack {
  public:
    template <class F>
    static constexpr bool fits_inline = exit_slot::stored_inline<std::decay_t<F>>;

    exit_slot_stack() noexcept = default;

    // Takes every entry of `other`, which is left empty.
    exit_slot_stack(exit_slot_stack&& other) noexcept {
        if (other.data_ != other.inline_data()) {
            data_ = std::exchange(other.data_, other.inline_data());
            capacity_ = std::exchange(other.capacity_, InlineCapacity);
        } else {
            relocate(other.data_, other.size_, data_);
        }
        size_ = std::exchange(other.size_, 0);
    }
    exit_slot_stack(const exit_slot_stack&) = delete;
    exit_slot_stack& operator=(const exit_slot_stack&) = delete;
    exit_slot_stack& operator=(exit_slot_stack&&) = delete;

    ~exit_slot_stack() {
        while (size_ > 0) {
            exit_slot& top = data_[--size_];
            top.ops->destroy(top.buffer);
        }
        release_heap();
    }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    // Makes room for one more entry, so that a following push of a nothrow-constructible
    // callable cannot fail.
    void reserve_one() {
        if (size_ < capacity_) return;
        const std::size_t capacity = capacity_ * 2;
        auto* heap = static_cast<exit_slot*>(::operator new(capacity * sizeof(exit_slot)));
        relocate(data_, size_, heap);
        release_heap();
        data_ = heap;
        capacity_ = capacity;
    }

    // Precondition: reserve_one() since the last push.
    template <class F>
    void push(F&& exit_fn) {
        using fn = std::decay_t<F>;
        exit_slot& slot = data_[size_];
        if constexpr (exit_slot::stored_inline<fn>) {
            ::new (static_cast<void*>(slot.buffer)) fn(std::forward<F>(exit_fn));
            slot.ops = &exit_slot::inline_operations<fn>;
        } else {
            ::new (static_cast<void*>(slot.buffer)) fn*(new fn(std::forward<F>(exit_fn)));
            slot.ops = &exit_slot::heap_operations<fn>;
        }
        ++size_;
    }

    // Removes the newest entry and calls it. Precondition: not empty.
    bool pop_and_call(const std::exception_ptr& error) {
        exit_slot& top = data_[--size_];
        return top.ops->consume(top.buffer, error);
    }

  private:
    exit_slot* inline_data() noexcept { return reinterpret_cast<exit_slot*>(inline_); }

    static void relocate(exit_slot* from, std::size_t count, exit_slot* to) noexcept {
        for (std::size_t i = 0; i < count; ++i) {
            from[i].ops->relocate(to[i].buffer, from[i].buffer);
            to[i].ops = from[i].ops;
        }
    }

    void release_heap() noexcept {
        if (data_ != inline_data()) ::operator delete(data_);
    }

    alignas(exit_slot) std::byte inline_[InlineCapacity * sizeof(exit_slot)];
    exit_slot* data_ = inline_data();
    std::size_t size_ = 0;
    std::size_t capacity_ = InlineCapacity;
};

}  // namespace holdfast::detail
