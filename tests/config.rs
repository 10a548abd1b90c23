#![cfg(segpool_std)]
//! Configuration validation: every invalid field is rejected, by `Config::validate` and by the queue constructor,
//! with an error that names the field.

mod support;

use std::time::Duration;

use segpool::{
    Config, ConfigError, Leak, Limbo, MAX_INITIAL_SEGMENTS, MAX_INITIAL_SLOTS, MAX_LIMBO_LEN, MAX_SEGMENT_SIZE,
    MAX_SEGMENTS, OnExhausted, Reclaim, SegQueue,
};

/// `config` is rejected for `field`, by `validate_for` and by `with_config`, with the same error.
fn assert_rejected<R: Reclaim>(config: Config, field: &str) {
    let error: ConfigError = config.validate_for::<R>().expect_err(&format!("{config:?} must be invalid"));
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
        (Config { segment_count: usize::MAX, ..Config::default() }, "segment_count"),
        // Up-front allocations a typo could ask for: refused, not an abort on a failed allocation.
        (Config { segment_count: MAX_INITIAL_SEGMENTS + 1, segment_size: 1, ..Config::default() }, "segment_count"),
        (Config { segment_count: 1 << 10, segment_size: 1 << 17, ..Config::default() }, "segment_count"),
        (Config { segment_count: 5, segment_size: MAX_SEGMENT_SIZE, ..Config::default() }, "segment_count"),
        (Config { limbo_len: 0, ..Config::default() }, "limbo_len"),
        (Config { limbo_len: MAX_LIMBO_LEN + 1, ..Config::default() }, "limbo_len"),
        (Config { limbo_len: u32::MAX as usize, ..Config::default() }, "limbo_len"),
        (Config { limbo_len: usize::MAX, ..Config::default() }, "limbo_len"),
        (Config { on_exhausted: OnExhausted::Wait(Duration::ZERO), ..Config::default() }, "on_exhausted"),
        // One segment under Fail or Wait: it is retired only once it has a successor, so the queue would take
        // segment_size values in its life. Refused for every strategy.
        (Config { segment_count: 1, on_exhausted: OnExhausted::Fail, ..Config::default() }, "segment_count"),
        (
            Config { segment_count: 1, on_exhausted: OnExhausted::Wait(Duration::MAX), ..Config::default() },
            "segment_count",
        ),
    ];
    for (config, field) in cases {
        assert_rejected::<R>(config, field);
    }
}

/// Every bound a size has is reachable: the largest valid values build (checked with `validate` where a queue
/// would allocate too much for a test).
#[test]
fn bounds_are_inclusive() {
    let largest = [
        Config { segment_count: MAX_INITIAL_SEGMENTS, segment_size: 1, ..Config::default() },
        Config { segment_count: MAX_INITIAL_SLOTS / 64, segment_size: 64, ..Config::default() },
        Config { limbo_len: MAX_LIMBO_LEN, ..Config::default() },
        Config { on_exhausted: OnExhausted::Wait(Duration::MAX), segment_count: 2, ..Config::default() },
    ];
    for config in largest {
        assert_eq!(config.validate(), Ok(()), "{config:?}");
    }
    let limbo = SegQueue::<u64, Limbo>::with_config(Config { limbo_len: MAX_LIMBO_LEN, ..Config::default() });
    assert!(limbo.is_ok(), "the largest limbo builds");
}

fn valid_configs_build_queues<R: Reclaim>() {
    let mut configs = vec![
        Config::default(),
        Config { segment_size: 1, segment_count: 1, limbo_len: 1, on_exhausted: OnExhausted::Grow },
    ];
    // Leak recycles nothing, so only Grow keeps it live (see `dead_configs_are_refused`).
    if R::NAME != Leak::NAME {
        configs.push(Config { segment_size: 1, segment_count: 3, limbo_len: 1, on_exhausted: OnExhausted::Fail });
        configs.push(Config {
            on_exhausted: OnExhausted::Wait(Duration::from_nanos(1)),
            segment_count: 514, // Limbo: limbo_len + 2
            ..Config::default()
        });
    }
    for config in configs {
        config.validate_for::<R>().unwrap_or_else(|error| panic!("{config:?} must be valid: {error}"));
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

support::for_each_strategy! {
    |R| {
        #[test]
        fn invalid_configs_are_rejected() {
            super::invalid_configs_are_rejected::<R>();
        }

        #[test]
        #[cfg_attr(miri, ignore = "five queues of the default size (32 segments of 64 slots): 5 s under Miri")]
        fn valid_configs_build_queues() {
            super::valid_configs_build_queues::<R>();
        }
    }
}

#[test]
fn default_config_is_valid() {
    let config = Config::default();
    assert_eq!(config.validate(), Ok(()));
    assert!(config.segment_size >= 1 && config.segment_count >= 1 && config.limbo_len >= 1);
}

/// A configuration under which the queue could stop accepting for good is refused, naming the field to change;
/// `with_config_unchecked_liveness` still builds it, for experiments on exhaustion.
#[test]
fn dead_configs_are_refused() {
    for on_exhausted in [OnExhausted::Fail, OnExhausted::Wait(Duration::from_millis(1))] {
        // Limbo: the ring and the queue's last segment can hold every segment below limbo_len + 2.
        let defaults = Config { on_exhausted, ..Config::default() };
        assert_rejected::<Limbo>(defaults.clone(), "segment_count");
        let message = defaults.validate_for::<Limbo>().unwrap_err().to_string();
        assert!(message.contains("limbo_len") && message.contains("514"), "names both fields: {message}");
        let short = Config { segment_count: 9, limbo_len: 8, on_exhausted, ..Config::default() };
        assert_rejected::<Limbo>(short.clone(), "segment_count");
        let queue = SegQueue::<u64, Limbo>::with_config_unchecked_liveness(short).expect("bounds are fine");
        assert_eq!(queue.stats().segments_allocated, 9);
        let enough = Config { segment_count: 10, limbo_len: 8, on_exhausted, ..Config::default() };
        assert_eq!(enough.validate_for::<Limbo>(), Ok(()));
        // Leak never recycles.
        assert_rejected::<Leak>(Config { on_exhausted, ..Config::default() }, "on_exhausted");
        // The strategy-independent rule: one segment is never enough.
        let one = Config { segment_count: 1, on_exhausted, ..Config::default() };
        assert!(SegQueue::<u64, Leak>::with_config_unchecked_liveness(one).is_ok());
    }
    // Under Grow every strategy is live.
    let grow = Config { segment_count: 1, ..Config::default() };
    assert_eq!(grow.validate_for::<Limbo>(), Ok(()));
    assert_eq!(grow.validate_for::<Leak>(), Ok(()));
    // The unchecked constructor still checks bounds.
    let unbounded = Config { limbo_len: usize::MAX, ..Config::default() };
    assert_eq!(
        SegQueue::<u64, Limbo>::with_config_unchecked_liveness(unbounded).err().map(|e| e.field()),
        Some("limbo_len")
    );
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
