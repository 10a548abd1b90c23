//! The reclamation strategies of the std suite, listed once ([`for_each_strategy!`]).

/// Expands its body once per reclamation strategy of the std suite, with `R` (the name between the bars) standing
/// for the strategy. Adding a strategy to the suite is one line in the list below; its properties say which of the
/// tests that run a subset it joins.
///
/// ```ignore
/// // A module of tests per strategy: `limbo::name`, `leak::name`, ..., `crossbeam_epoch::name`.
/// support::for_each_strategy! {
///     |R| {
///         #[test]
///         fn name() { super::name::<R>(); }
///     }
/// }
/// // Only the strategies with a property (`recycles`, `allocation_free` or `send_handle`):
/// support::for_each_strategy! { |R| if recycles { ... } }
/// // Every strategy, and more items for those with a property, in the same module:
/// support::for_each_strategy! { |R| { ... } if recycles { ... } }
/// // Statements inside a function (a block per strategy), with or without `if property`:
/// support::for_each_strategy!(fn |R| if allocation_free { check::<R>(); });
/// ```
///
/// Each module starts with `use super::*;`. The reference adapters (`Haphazard`, `FastSmr`, `Seize`, `CrossbeamEpoch`) are
/// built with the `reference` feature only, and never under loom or shuttle (the model checkers cannot see their
/// atomics), so the loom and shuttle models, which include this file too (`verification/support/`), run the other
/// strategies. The module
/// names are the tests' paths (`crossbeam_epoch::name`): `scripts/miri.sh` runs the tests whose path contains
/// `crossbeam` under Tree Borrows, and for a test file it does not list by name, only if the file's text says
/// `crossbeam` (so such a file names the strategy in a comment at least).
macro_rules! for_each_strategy {
    // The list: module name => strategy { properties }. The properties, in this order:
    // - recycles: the strategy reuses segments, so a queue under `Fail` or `Wait` stays live (not `Leak`);
    // - allocation_free: once warm, its queue allocates nothing per push and pop (tests/alloc.rs,
    //   tests/pool_alloc.rs);
    // - send_handle: its handle, and so the queue's handle, is `Send` (tests/reference_adapters.rs).
    (@list $form:tt) => {
        $crate::support::for_each_strategy!(@one $form limbo => segpool::Limbo
            { recycles: yes, allocation_free: yes, send_handle: yes });
        $crate::support::for_each_strategy!(@one $form leak => segpool::Leak
            { recycles: no, allocation_free: no, send_handle: yes });
        $crate::support::for_each_strategy!(@one $form hazard => segpool::Hazard
            { recycles: yes, allocation_free: yes, send_handle: yes });
        $crate::support::for_each_strategy!(@one $form epoch => segpool::Epoch
            { recycles: yes, allocation_free: yes, send_handle: yes });
        $crate::support::for_each_strategy!(@one $form hazard_eras => segpool::HazardEras
            { recycles: yes, allocation_free: yes, send_handle: yes });
        $crate::support::for_each_strategy!(@one $form ibr => segpool::Ibr
            { recycles: yes, allocation_free: yes, send_handle: yes });
        $crate::support::for_each_strategy!(@one $form qsbr => segpool::Qsbr
            { recycles: yes, allocation_free: yes, send_handle: yes });
        $crate::support::for_each_strategy!(@one $form hyaline => segpool::Hyaline
            { recycles: yes, allocation_free: yes, send_handle: yes });
        #[cfg(all(feature = "reference", segpool_std))]
        $crate::support::for_each_strategy!(@one $form haphazard => segpool::Haphazard
            { recycles: yes, allocation_free: no, send_handle: yes });
        #[cfg(all(feature = "reference", segpool_std))]
        $crate::support::for_each_strategy!(@one $form fast_smr => segpool::FastSmr
            { recycles: yes, allocation_free: no, send_handle: yes });
        #[cfg(all(feature = "reference", segpool_std))]
        $crate::support::for_each_strategy!(@one $form seize => segpool::Seize
            { recycles: yes, allocation_free: no, send_handle: no });
        #[cfg(all(feature = "reference", segpool_std))]
        $crate::support::for_each_strategy!(@one $form crossbeam_epoch => segpool::CrossbeamEpoch
            { recycles: yes, allocation_free: no, send_handle: no });
    };

    // One strategy, as a module of items.
    (@one [mod $R:ident $filter:ident { $($items:tt)* } $extra_filter:ident { $($extra:tt)* }]
        $module:ident => $strategy:ty { $($properties:tt)* }) => {
        $crate::support::for_each_strategy!(@select $filter { $($properties)* }
            mod $module {
                #[allow(unused_imports)]
                use super::*;

                type $R = $strategy;

                $($items)*

                $crate::support::for_each_strategy!(@select $extra_filter { $($properties)* } $($extra)*);
            }
        );
    };
    // One strategy, as a block of statements.
    (@one [fn $R:ident $filter:ident { $($statements:tt)* }] $module:ident => $strategy:ty { $($properties:tt)* }) => {
        $crate::support::for_each_strategy!(@select $filter { $($properties)* } {
            type $R = $strategy;
            $($statements)*
        });
    };

    // `@select FILTER { properties } tokens...`: the tokens if the strategy passes the filter, nothing otherwise.
    // Every property has a `yes` and a `no` arm, so a misspelt filter fails to compile instead of selecting nothing.
    (@select all $properties:tt $($tokens:tt)*) => { $($tokens)* };
    (@select none $properties:tt $($tokens:tt)*) => {};
    (@select recycles { recycles: yes, $($rest:tt)* } $($tokens:tt)*) => { $($tokens)* };
    (@select recycles { recycles: no, $($rest:tt)* } $($tokens:tt)*) => {};
    (@select allocation_free { $a:ident: $_a:ident, allocation_free: yes, $($rest:tt)* } $($tokens:tt)*) => {
        $($tokens)*
    };
    (@select allocation_free { $a:ident: $_a:ident, allocation_free: no, $($rest:tt)* } $($tokens:tt)*) => {};
    (@select send_handle { $a:ident: $_a:ident, $b:ident: $_b:ident, send_handle: yes } $($tokens:tt)*) => {
        $($tokens)*
    };
    (@select send_handle { $a:ident: $_a:ident, $b:ident: $_b:ident, send_handle: no } $($tokens:tt)*) => {};

    // The forms the tests write.
    (|$R:ident| { $($items:tt)* } if $extra_filter:ident { $($extra:tt)* }) => {
        $crate::support::for_each_strategy!(@list [mod $R all { $($items)* } $extra_filter { $($extra)* }]);
    };
    (|$R:ident| { $($items:tt)* }) => {
        $crate::support::for_each_strategy!(@list [mod $R all { $($items)* } none {}]);
    };
    (|$R:ident| if $filter:ident { $($items:tt)* }) => {
        $crate::support::for_each_strategy!(@list [mod $R $filter { $($items)* } none {}]);
    };
    (fn |$R:ident| { $($statements:tt)* }) => {
        $crate::support::for_each_strategy!(@list [fn $R all { $($statements)* }]);
    };
    (fn |$R:ident| if $filter:ident { $($statements:tt)* }) => {
        $crate::support::for_each_strategy!(@list [fn $R $filter { $($statements)* }]);
    };
}

pub(crate) use for_each_strategy;
