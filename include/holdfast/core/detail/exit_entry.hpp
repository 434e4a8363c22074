// Storage for exit_stack: a type-erased exit function with a small inline buffer, and a
// stack of them with inline capacity, so registering small callbacks allocates nothing.
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

// One registered exit: `bool(const std::exception_ptr&)`, move-only, type-erased. Callables up
// to three pointers that are nothrow-movable live in the inline buffer; larger ones on the
// heap, so moving an entry never throws.
class exit_entry {
    static constexpr std::size_t inline_size = 3 * sizeof(void*);

    template <class F>
    static constexpr bool stored_inline =
        sizeof(F) <= inline_size &&
        alignof(F) <= alignof(void*) && std::is_nothrow_move_constructible_v<F>;

    struct operations {
        bool (*call)(void* self, const std::exception_ptr& error);
        void (*relocate)(void* to, void* from) noexcept;  // move-construct, destroy the source
        void (*destroy)(void* self) noexcept;
    };

    template <class F>
    static constexpr operations inline_operations{
        [](void* self, const std::exception_ptr& error) {
            return call_exit(*static_cast<F*>(self), error);
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
            return call_exit(**static_cast<F**>(self), error);
        },
        [](void* to, void* from) noexcept { *static_cast<F**>(to) = *static_cast<F**>(from); },
        [](void* self) noexcept { delete *static_cast<F**>(self); },
    };

  public:
    template <class F>
    static constexpr bool fits_inline = stored_inline<std::decay_t<F>>;

    template <class F>
    requires(!std::is_same_v<std::decay_t<F>, exit_entry>) explicit exit_entry(F&& exit_fn) {
        using fn = std::decay_t<F>;
        if constexpr (stored_inline<fn>) {
            ::new (static_cast<void*>(buffer_)) fn(std::forward<F>(exit_fn));
            operations_ = &inline_operations<fn>;
        } else {
            ::new (static_cast<void*>(buffer_)) fn*(new fn(std::forward<F>(exit_fn)));
            operations_ = &heap_operations<fn>;
        }
    }

    exit_entry(exit_entry&& other) noexcept
        : operations_(std::exchange(other.operations_, nullptr)) {
        if (operations_ != nullptr) operations_->relocate(buffer_, other.buffer_);
    }
    exit_entry(const exit_entry&) = delete;
    exit_entry& operator=(const exit_entry&) = delete;
    exit_entry& operator=(exit_entry&&) = delete;

    ~exit_entry() {
        if (operations_ != nullptr) operations_->destroy(buffer_);
    }

    bool operator()(const std::exception_ptr& error) { return operations_->call(buffer_, error); }

  private:
    alignas(void*) std::byte buffer_[inline_size];
    const operations* operations_;
};

// A LIFO stack of exit_entry with room for InlineCapacity entries inside the object itself;
// beyond that it moves to a heap buffer that grows geometrically.
template <std::size_t InlineCapacity>
class exit_entry_stack {
  public:
    exit_entry_stack() noexcept = default;

    exit_entry_stack(exit_entry_stack&& other) noexcept { take(other); }
    exit_entry_stack(const exit_entry_stack&) = delete;
    exit_entry_stack& operator=(const exit_entry_stack&) = delete;
    exit_entry_stack& operator=(exit_entry_stack&& other) = delete;

    ~exit_entry_stack() {
        while (size_ > 0) data_[--size_].~exit_entry();
        release_heap();
    }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    // Makes room for one more entry, so that the following push() cannot fail.
    void reserve_one() {
        if (size_ < capacity_) return;
        const std::size_t capacity = capacity_ * 2;
        auto* heap = static_cast<exit_entry*>(::operator new(capacity * sizeof(exit_entry)));
        for (std::size_t i = 0; i < size_; ++i) {
            ::new (static_cast<void*>(heap + i)) exit_entry(std::move(data_[i]));
            data_[i].~exit_entry();
        }
        release_heap();
        data_ = heap;
        capacity_ = capacity;
    }

    // Precondition: reserve_one() since the last push, or F's entry is nothrow-constructible.
    template <class F>
    void push(F&& exit_fn) {
        ::new (static_cast<void*>(data_ + size_)) exit_entry(std::forward<F>(exit_fn));
        ++size_;
    }

    exit_entry pop() noexcept {
        exit_entry top(std::move(data_[size_ - 1]));
        data_[--size_].~exit_entry();
        return top;
    }

    // Moves every entry of `other` into this (empty) stack; `other` is left empty.
    void take(exit_entry_stack& other) noexcept {
        if (other.data_ != other.inline_data()) {
            data_ = std::exchange(other.data_, other.inline_data());
            capacity_ = std::exchange(other.capacity_, InlineCapacity);
        } else {
            for (std::size_t i = 0; i < other.size_; ++i) {
                ::new (static_cast<void*>(data_ + i)) exit_entry(std::move(other.data_[i]));
                other.data_[i].~exit_entry();
            }
        }
        size_ = std::exchange(other.size_, 0);
    }

  private:
    exit_entry* inline_data() noexcept { return reinterpret_cast<exit_entry*>(inline_); }

    void release_heap() noexcept {
        if (data_ != inline_data()) ::operator delete(data_);
    }

    alignas(exit_entry) std::byte inline_[InlineCapacity * sizeof(exit_entry)];
    exit_entry* data_ = inline_data();
    std::size_t size_ = 0;
    std::size_t capacity_ = InlineCapacity;
};

}  // namespace holdfast::detail
