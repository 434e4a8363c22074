// holdfast/pool/detail/typed_slot.hpp — a pooled resource of type T with its bookkeeping.
#pragma once

#include <functional>
#include <utility>

#include <holdfast/pool/detail/pool_core.hpp>

namespace holdfast::detail {

template <class T>
struct typed_slot final : pool_slot {
    // The factory's prvalue initializes the resource in place: T need not be movable.
    template <class Factory>
    explicit typed_slot(Factory& factory) : value(std::invoke(factory)) {}
    // What an asynchronous factory produced.
    struct from_value {};
    typed_slot(from_value, T&& v) : value(std::move(v)) {}

    T value;
};

}  // namespace holdfast::detail
