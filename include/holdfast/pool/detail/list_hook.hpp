// holdfast/pool/detail/list_hook.hpp — the links an object carries to sit in an intrusive list
// (src/pool/intrusive_list.hpp). Not part of the public API.
#pragma once

namespace holdfast::detail {

/// The previous and next elements of one intrusive list an object of type T is in. An object
/// carries one hook per list it can be in at the same time.
template <class T>
struct list_hook {
    T* prev = nullptr;
    T* next = nullptr;
};

}  // namespace holdfast::detail
