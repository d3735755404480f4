//! `role::generation::compare`: the table of its module docs, and symmetry.

use proptest::prelude::*;
use sft3::role::generation::{compare, GenerationOrder, Generations};

fn g(history: &[u64], tracked_since: u64) -> Generations<'_> {
    Generations {
        history,
        tracked_since,
    }
}

#[test]
fn the_table() {
    use GenerationOrder::*;
    assert_eq!(compare(g(&[], 0), g(&[1], 0)), Unknown);
    assert_eq!(compare(g(&[1], 0), g(&[], 0)), Unknown);
    assert_eq!(compare(g(&[5, 1], 1), g(&[5, 1], 0)), Same);
    // The peer served alone since our generation 1 and tracked from it: incremental.
    assert_eq!(
        compare(g(&[1], 0), g(&[5, 1], 1)),
        PeerNewer { incremental: true }
    );
    // It tracked from an older one (or not at all): full.
    assert_eq!(
        compare(g(&[3, 1], 0), g(&[5, 3, 1], 1)),
        PeerNewer { incremental: false }
    );
    assert_eq!(
        compare(g(&[5, 1], 1), g(&[1], 0)),
        LocalNewer { incremental: true }
    );
    assert_eq!(
        compare(g(&[5, 1], 0), g(&[1], 0)),
        LocalNewer { incremental: false }
    );
    // Both moved on from 1: split brain.
    assert_eq!(compare(g(&[5, 1], 1), g(&[6, 1], 1)), Diverged);
    // A corrupt cycle is never taken for an order.
    assert_eq!(compare(g(&[5, 6], 0), g(&[6, 5], 0)), Diverged);
}

fn mirror(o: GenerationOrder) -> GenerationOrder {
    match o {
        GenerationOrder::LocalNewer { incremental } => GenerationOrder::PeerNewer { incremental },
        GenerationOrder::PeerNewer { incremental } => GenerationOrder::LocalNewer { incremental },
        x => x,
    }
}

proptest! {
    /// Both sides reach the same verdict from their own point of view.
    #[test]
    fn symmetric(
        a in proptest::collection::vec(0u64..12, 0..8),
        b in proptest::collection::vec(0u64..12, 0..8),
        ta in 0u64..12,
        tb in 0u64..12,
    ) {
        prop_assert_eq!(compare(g(&a, ta), g(&b, tb)), mirror(compare(g(&b, tb), g(&a, ta))));
    }
}
