#![cfg(not(any(feature = "loom", feature = "shuttle")))]
//! Configuration validation: every invalid field is rejected, by `Config::validate` and by the queue constructor,
//! with an error that names the field.

use std::time::Duration;

use segpool::{Config, ConfigError, Limbo, MAX_SEGMENT_SIZE, MAX_SEGMENTS, OnExhausted, Reclaim, SegQueue};

/// `config` is rejected for `field`, by `validate` and by `with_config`, with the same error.
fn assert_rejected<R: Reclaim>(config: Config, field: &str) {
    let error: ConfigError = config.validate().expect_err(&format!("{config:?} must be invalid"));
    assert_eq!(error.field(), field, "{config:?}: {error}");
    let message = error.to_string();
    assert!(message.contains(field), "the message must name `{field}`: {message:?}");
    let from_queue = SegQueue::<u64, R>::with_config(config.clone())
        .err()
        .unwrap_or_else(|| panic!("with_config must reject {config:?}"));
    assert_eq!(from_queue, error, "with_config must report what validate reports");
    // `ConfigError` is a std error, usable with `?` into `Box<dyn Error>`.
    let boxed: Box<dyn std::error::Error> = Box::new(from_queue);
    assert!(boxed.to_string().contains(field));
}

fn invalid_configs_are_rejected<R: Reclaim>() {
    let cases = [
        (Config { segment_size: 0, ..Config::default() }, "segment_size"),
        (Config { segment_size: MAX_SEGMENT_SIZE + 1, ..Config::default() }, "segment_size"),
        (Config { segment_size: usize::MAX, ..Config::default() }, "segment_size"),
        (Config { segment_count: 0, ..Config::default() }, "segment_count"),
        (Config { segment_count: MAX_SEGMENTS + 1, ..Config::default() }, "segment_count"),
        (Config { limbo_len: 0, ..Config::default() }, "limbo_len"),
        (Config { on_exhausted: OnExhausted::Wait(Duration::ZERO), ..Config::default() }, "on_exhausted"),
    ];
    for (config, field) in cases {
        assert_rejected::<R>(config, field);
    }
}

fn valid_configs_build_queues<R: Reclaim>() {
    let configs = [
        Config::default(),
        Config { segment_size: 1, segment_count: 1, limbo_len: 1, on_exhausted: OnExhausted::Fail },
        Config { on_exhausted: OnExhausted::Wait(Duration::from_nanos(1)), ..Config::default() },
    ];
    for config in configs {
        config.validate().unwrap_or_else(|error| panic!("{config:?} must be valid: {error}"));
        let q = SegQueue::<u64, R>::with_config(config.clone()).unwrap();
        assert_eq!(q.config(), &config);
        assert!(q.is_empty());
        assert_eq!(q.stats().segments_allocated, config.segment_count as u64);
        q.push(7).unwrap();
        assert_eq!(q.pop(), Some(7));
    }
    let q = SegQueue::<u64, R>::new();
    assert_eq!(q.config(), &Config::default());
    let q = SegQueue::<u64, R>::default();
    assert_eq!(q.config(), &Config::default());
}

macro_rules! for_each_strategy {
    ($($(#[$attr:meta])* $module:ident => $strategy:ty),* $(,)?) => {$(
        $(#[$attr])*
        mod $module {
            #[test]
            fn invalid_configs_are_rejected() {
                super::invalid_configs_are_rejected::<$strategy>();
            }

            #[test]
            #[cfg_attr(miri, ignore = "five queues of the default size (32 segments of 64 slots): 5 s under Miri")]
            fn valid_configs_build_queues() {
                super::valid_configs_build_queues::<$strategy>();
            }
        }
    )*};
}

for_each_strategy! {
    limbo => segpool::Limbo,
    leak => segpool::Leak,
    hazard => segpool::Hazard,
    epoch => segpool::Epoch,
    #[cfg(feature = "reference")]
    haphazard => segpool::Haphazard,
    #[cfg(feature = "reference")]
    crossbeam_epoch => segpool::CrossbeamEpoch,
}

#[test]
fn default_config_is_valid() {
    let config = Config::default();
    assert_eq!(config.validate(), Ok(()));
    assert!(config.segment_size >= 1 && config.segment_count >= 1 && config.limbo_len >= 1);
}

/// The largest segment size is valid (checked with `validate` only: a queue would allocate 16M-slot segments).
#[test]
fn max_segment_size_is_valid() {
    let config = Config { segment_size: MAX_SEGMENT_SIZE, segment_count: 1, ..Config::default() };
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(MAX_SEGMENT_SIZE, (1 << 24) - 1, "the reserve field of the state word is 24 bits");
}

/// A config with several invalid fields is rejected, naming one of them.
#[test]
fn several_invalid_fields_are_rejected() {
    let config =
        Config { segment_size: 0, segment_count: 0, on_exhausted: OnExhausted::Wait(Duration::ZERO), limbo_len: 0 };
    let error = config.validate().unwrap_err();
    assert!(["segment_size", "segment_count", "on_exhausted", "limbo_len"].contains(&error.field()), "{error}");
    assert_eq!(SegQueue::<u8, Limbo>::with_config(config).err(), Some(error));
}
