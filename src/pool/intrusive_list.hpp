// The pool's one list: doubly linked through a list_hook inside the elements, so linking and
// unlinking never allocate and an element knows its own position. Not thread safe: each list
// is guarded by its owner's mutex.
#pragma once

#include <cstddef>

#include <holdfast/pool/detail/list_hook.hpp>

namespace holdfast::detail {

/// A list of T linked through the member `Hook`. Elements are not owned. An element is in at
/// most one list per hook; unlink() takes it out of the one it is in.
template <class T, list_hook<T> T::*Hook>
class intrusive_list {
  public:
    T* front() const noexcept { return head_; }
    T* back() const noexcept { return tail_; }
    std::size_t size() const noexcept { return count_; }
    bool empty() const noexcept { return head_ == nullptr; }

    static T* next(const T* element) noexcept { return (element->*Hook).next; }
    static T* prev(const T* element) noexcept { return (element->*Hook).prev; }

    void push_front(T* element) noexcept {
        auto& hook = element->*Hook;
        hook.prev = nullptr;
        hook.next = head_;
        (head_ ? (head_->*Hook).prev : tail_) = element;
        head_ = element;
        ++count_;
    }

    void push_back(T* element) noexcept {
        auto& hook = element->*Hook;
        hook.next = nullptr;
        hook.prev = tail_;
        (tail_ ? (tail_->*Hook).next : head_) = element;
        tail_ = element;
        ++count_;
    }

    /// Precondition: `element` is in this list.
    void unlink(T* element) noexcept {
        auto& hook = element->*Hook;
        (hook.prev ? (hook.prev->*Hook).next : head_) = hook.next;
        (hook.next ? (hook.next->*Hook).prev : tail_) = hook.prev;
        hook.prev = hook.next = nullptr;
        --count_;
    }

    T* pop_front() noexcept {
        T* element = head_;
        if (element) unlink(element);
        return element;
    }

  private:
    T* head_ = nullptr;
    T* tail_ = nullptr;
    std::size_t count_ = 0;
};

}  // namespace holdfast::detail
